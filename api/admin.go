package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"rtchub/auth"
	"rtchub/store"
)

// AdminClient is a client as the admin endpoints show it; Secret is set
// only when a client is created.
type AdminClient struct {
	ID     string `json:"client_id"`
	Name   string `json:"name"`
	Secret string `json:"client_secret,omitempty"`
}

// Admin serves the operator's commands (`rtchub client ...`, `backup`,
// `compact`) to a running hub. It is meant for a Unix socket in the data
// directory: whoever may open the socket may read the log anyway, so file
// permissions are its authentication.
func Admin(st *store.Store, log *slog.Logger, backupFiles ...string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /clients", func(w http.ResponseWriter, r *http.Request) {
		out := []AdminClient{}
		for _, c := range st.Clients() {
			out = append(out, AdminClient{ID: c.ID, Name: c.Name})
		}
		WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /clients", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name   string `json:"name"`
			ID     string `json:"client_id"`
			Secret string `json:"client_secret"`
		}
		if !DecodeJSON(w, r, 1<<16, &req) {
			return
		}
		c, err := AddClient(r.Context(), st, req.ID, req.Name, req.Secret)
		if err != nil {
			WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		WriteJSON(w, http.StatusCreated, c)
	})
	mux.HandleFunc("DELETE /clients/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := st.RemoveClient(r.Context(), r.PathValue("id")); err != nil {
			FailStore(w, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-tar")
		if err := st.Backup(w, backupFiles...); err != nil {
			log.Error("backup failed", "err", err)
			// The status is out; a broken tar tells the client.
			panic(http.ErrAbortHandler)
		}
	})
	mux.HandleFunc("POST /compact", func(w http.ResponseWriter, r *http.Request) {
		if err := st.Compact(); err != nil {
			WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, map[string]int64{"log_bytes": st.Metrics.LogBytes.Load()})
	})
	return Recover(log, mux)
}

// AddClient creates a client (or, if id exists, sets its secret). An empty
// id or secret is generated; the secret is returned in the clear once.
func AddClient(ctx context.Context, st *store.Store, id, name, secret string) (AdminClient, error) {
	if id == "" {
		id = auth.NewClientID()
	}
	if !ValidID(id) {
		return AdminClient{}, fmt.Errorf("invalid client id %q: "+IDRule, Clip(id))
	}
	if name == "" {
		name = id
	}
	if secret == "" {
		secret = auth.NewSecret()
	}
	hash, err := auth.HashSecret(secret)
	if err != nil {
		return AdminClient{}, err
	}
	if _, err := st.PutClient(ctx, id, name, hash); err != nil {
		return AdminClient{}, err
	}
	return AdminClient{ID: id, Name: name, Secret: secret}, nil
}
