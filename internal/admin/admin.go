// Package admin serves and calls the operator's commands (`rtchub client
// ...`, `backup`, `compact`) over a Unix socket in the data directory.
// Whoever may open the socket may read the log anyway, so file permissions
// are its authentication. With no hub running, the same commands work on
// the data directory directly.
package admin

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"rtchub/auth"
	"rtchub/internal/httpx"
	"rtchub/store"
)

// SocketName is the admin socket's file name inside the data directory.
const SocketName = "admin.sock"

// Client is an application client as the admin endpoints show it; Secret
// is set only when a client is created.
type Client struct {
	ID     string `json:"client_id"`
	Name   string `json:"name"`
	Secret string `json:"client_secret,omitempty"`
}

// Handler serves the admin endpoints of a running hub. closeApp ends the
// open event streams of a client once it is removed (its tokens no longer
// open one, and a stream open already must not outlive them).
func Handler(st *store.Store, log *slog.Logger, closeApp func(client string)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /clients", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, listClients(st))
	})
	mux.HandleFunc("POST /clients", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name   string `json:"name"`
			ID     string `json:"client_id"`
			Secret string `json:"client_secret"`
		}
		if !httpx.DecodeJSON(w, r, 1<<16, &req) {
			return
		}
		c, err := AddClient(r.Context(), st, req.ID, req.Name, req.Secret)
		if err != nil {
			httpx.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		httpx.WriteJSON(w, http.StatusCreated, c)
	})
	mux.HandleFunc("DELETE /clients/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := st.RemoveClient(r.Context(), id); err != nil {
			httpx.FailStore(w, log, err)
			return
		}
		closeApp(id)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-tar")
		if err := st.Backup(w); err != nil {
			log.Error("backup failed", "err", err)
			// The status is out; a broken tar tells the client.
			panic(http.ErrAbortHandler)
		}
	})
	mux.HandleFunc("POST /compact", func(w http.ResponseWriter, r *http.Request) {
		if err := st.Compact(); err != nil {
			httpx.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		httpx.WriteJSON(w, http.StatusOK, compacted{st.Metrics.LogBytes.Load()})
	})
	return httpx.Recover(log, mux)
}

type compacted struct {
	LogBytes int64 `json:"log_bytes"`
}

func listClients(st *store.Store) []Client {
	out := []Client{}
	for _, c := range st.Clients() {
		out = append(out, Client{ID: c.ID, Name: c.Name})
	}
	return out
}

// AddClient creates a client (or, if id exists, sets its secret). An empty
// id or secret is generated; the secret is returned in the clear once.
func AddClient(ctx context.Context, st *store.Store, id, name, secret string) (Client, error) {
	if id == "" {
		id = auth.NewClientID()
	}
	if !auth.ValidID(id) {
		return Client{}, fmt.Errorf("invalid client id %q: "+auth.IDRule, httpx.Clip(id))
	}
	if name == "" {
		name = id
	}
	if secret == "" {
		secret = auth.NewSecret()
	}
	hash, err := auth.HashSecret(secret)
	if err != nil {
		return Client{}, err
	}
	if _, err := st.PutClient(ctx, id, name, hash); err != nil {
		return Client{}, err
	}
	return Client{ID: id, Name: name, Secret: secret}, nil
}
