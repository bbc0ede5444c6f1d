package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"

	"rtchub/store"
)

// The operator's commands. Each runs on the data directory itself when no
// hub holds it, or else asks the running hub over its admin socket.

// ListClients lists the application clients by id.
func ListClients(ctx context.Context, dir string) ([]Client, error) {
	var out []Client
	err := offlineOrOnline(dir, func(st *store.Store) error {
		out = listClients(st)
		return nil
	}, func(hc *http.Client) error {
		return call(ctx, hc, "GET", "/clients", nil, &out)
	})
	return out, err
}

// CreateClient creates a client named name with a generated id and secret.
func CreateClient(ctx context.Context, dir, name string) (Client, error) {
	var out Client
	err := offlineOrOnline(dir, func(st *store.Store) error {
		var err error
		out, err = AddClient(ctx, st, "", name, "")
		return err
	}, func(hc *http.Client) error {
		return call(ctx, hc, "POST", "/clients", map[string]string{"name": name}, &out)
	})
	return out, err
}

// RemoveClient removes a client; its access tokens stop working.
func RemoveClient(ctx context.Context, dir, id string) error {
	return offlineOrOnline(dir, func(st *store.Store) error {
		return st.RemoveClient(ctx, id)
	}, func(hc *http.Client) error {
		return call(ctx, hc, "DELETE", "/clients/"+id, nil, nil)
	})
}

// Compact rewrites the log to live state. before is the log's size before,
// or -1 when the running hub compacted it (it does not say).
func Compact(ctx context.Context, dir string) (before, after int64, err error) {
	err = offlineOrOnline(dir, func(st *store.Store) error {
		before = st.Metrics.LogBytes.Load()
		err := st.Compact()
		after = st.Metrics.LogBytes.Load()
		return err
	}, func(hc *http.Client) error {
		var out compacted
		err := call(ctx, hc, "POST", "/compact", nil, &out)
		before, after = -1, out.LogBytes
		return err
	})
	return before, after, err
}

// Backup writes a tar of the signing key and a consistent copy of the log
// to w.
func Backup(ctx context.Context, dir string, w io.Writer) error {
	return offlineOrOnline(dir, func(st *store.Store) error {
		return st.Backup(w)
	}, func(hc *http.Client) error {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://rtchub/backup", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("the hub's admin socket does not answer: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("hub answered %s", resp.Status)
		}
		_, err = io.Copy(w, resp.Body)
		return err
	})
}

// offlineOrOnline runs offline on the data directory if no hub holds it,
// or else online, against the running hub's admin socket.
func offlineOrOnline(dir string, offline func(*store.Store) error, online func(*http.Client) error) error {
	opts := store.DefaultOptions()
	opts.Dir, opts.CompactMin = dir, -1
	st, err := store.Open(opts)
	if errors.Is(err, store.ErrLocked) {
		return online(socketClient(dir))
	}
	if err != nil {
		return err
	}
	err = offline(st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

func socketClient(dir string) *http.Client {
	path := filepath.Join(dir, SocketName)
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// call calls the running hub's admin socket and decodes a JSON answer.
func call(ctx context.Context, c *http.Client, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://rtchub"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("the data directory is locked by a running hub, and its admin socket does not answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("hub answered %s: %s", resp.Status, e.Error)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}
