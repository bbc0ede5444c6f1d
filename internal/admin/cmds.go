package admin

import (
	"bufio"
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
	}, func(sock string) error {
		return call(ctx, sock, "GET", "/clients", nil, &out)
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
	}, func(sock string) error {
		return call(ctx, sock, "POST", "/clients", map[string]string{"name": name}, &out)
	})
	return out, err
}

// RemoveClient removes a client; its access tokens stop working.
func RemoveClient(ctx context.Context, dir, id string) error {
	return offlineOrOnline(dir, func(st *store.Store) error {
		return st.RemoveClient(ctx, id)
	}, func(sock string) error {
		return call(ctx, sock, "DELETE", "/clients/"+id, nil, nil)
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
	}, func(sock string) error {
		var out compacted
		err := call(ctx, sock, "POST", "/compact", nil, &out)
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
	}, func(sock string) error {
		body, err := ask(ctx, sock, "GET", "/backup", nil)
		if err != nil {
			return err
		}
		defer body.Close()
		_, err = io.Copy(w, body)
		return err
	})
}

// offlineOrOnline runs offline on the data directory if no hub holds it,
// or else online, against the running hub's admin socket.
func offlineOrOnline(dir string, offline func(*store.Store) error, online func(sock string) error) error {
	if err := store.CheckDir(dir); err != nil {
		return err
	}
	opts := store.DefaultOptions()
	opts.Dir, opts.CompactMin = dir, -1
	st, err := store.Open(opts)
	if errors.Is(err, store.ErrLocked) {
		return online(filepath.Join(dir, SocketName))
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

// roundTrip sends req to the hub's socket on a connection of its own
// (net/http's Transport would add its weight to the binary for one request
// a command).
func roundTrip(ctx context.Context, sock string, req *http.Request) (*http.Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, err
	}
	req.Close = true
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	resp.Body = connBody{resp.Body, conn}
	return resp, nil
}

// connBody closes the connection with the body.
type connBody struct {
	io.ReadCloser
	conn net.Conn
}

func (b connBody) Close() error {
	b.ReadCloser.Close()
	return b.conn.Close()
}

// call calls the running hub's admin socket and decodes a JSON answer.
func call(ctx context.Context, sock string, method, path string, body, out any) error {
	answer, err := ask(ctx, sock, method, path, body)
	if err != nil {
		return err
	}
	defer answer.Close()
	if out != nil {
		return json.NewDecoder(answer).Decode(out)
	}
	return nil
}

// ask sends a request, with body as JSON if not nil, to the running hub's
// admin socket and returns the body of a successful answer; a failed one
// is an error in the hub's words.
func ask(ctx context.Context, sock string, method, path string, body any) (io.ReadCloser, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://rtchub"+path, rd)
	if err != nil {
		return nil, err
	}
	resp, err := roundTrip(ctx, sock, req)
	if err != nil {
		return nil, fmt.Errorf("the data directory is locked by a running hub, and its admin socket does not answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		return nil, fmt.Errorf("hub answered %s: %s", resp.Status, e.Error)
	}
	return resp.Body, nil
}
