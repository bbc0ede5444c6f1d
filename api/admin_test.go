package api_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"rtchub/api"
	"rtchub/auth"
	"rtchub/store"
)

func TestAdminClients(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	srv := httptest.NewServer(api.Admin(st, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	call := func(method, path, body string) resp {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		return doReq(t, req)
	}
	list := func() []api.AdminClient {
		t.Helper()
		r := call("GET", "/clients", "")
		if r.code != 200 {
			t.Fatalf("GET /clients: %d %s", r.code, r.body)
		}
		if strings.Contains(string(r.body), "secret") {
			t.Errorf("client list shows secrets: %s", r.body)
		}
		var out []api.AdminClient
		r.json(t, &out)
		return out
	}
	if got := list(); got == nil || len(got) != 0 {
		t.Fatalf("empty list: %#v (want [])", got)
	}

	// A generated id and secret.
	r := call("POST", "/clients", `{"name":"Web shop"}`)
	if r.code != 201 {
		t.Fatalf("add: %d %s", r.code, r.body)
	}
	var gen api.AdminClient
	r.json(t, &gen)
	if !api.ValidID(gen.ID) || gen.Name != "Web shop" || len(gen.Secret) < 16 {
		t.Fatalf("generated client %s", r.body)
	}
	c, _, ok := st.Client(gen.ID)
	if !ok || !auth.CheckSecret(c.Hash, gen.Secret) || strings.Contains(c.Hash, gen.Secret) {
		t.Fatalf("stored client %+v does not hold a hash of the secret", c)
	}

	// A chosen id and secret; the name defaults to the id.
	r = call("POST", "/clients", `{"client_id":"billing","client_secret":"correct-horse-battery"}`)
	if r.code != 201 {
		t.Fatalf("add billing: %d %s", r.code, r.body)
	}
	var b api.AdminClient
	r.json(t, &b)
	if b.ID != "billing" || b.Name != "billing" || b.Secret != "correct-horse-battery" {
		t.Errorf("billing: %s", r.body)
	}
	got := list()
	if len(got) != 2 || got[0].ID > got[1].ID {
		t.Errorf("list %+v: want 2 clients by id", got)
	}

	for _, body := range []string{`{"client_id":"bad id"}`, `{"name":"x","extra":1}`, `{`, ``} {
		if r := call("POST", "/clients", body); r.code != 400 {
			t.Errorf("add %q: %d %s, want 400", body, r.code, r.body)
		} else {
			r.errorMsg(t)
		}
	}

	if r := call("DELETE", "/clients/billing", ""); r.code != 204 {
		t.Fatalf("remove: %d %s", r.code, r.body)
	}
	if r := call("DELETE", "/clients/billing", ""); r.code != 404 || !strings.Contains(r.errorMsg(t), "unknown client") {
		t.Errorf("remove again: %d %s", r.code, r.body)
	}
	if got := list(); len(got) != 1 || got[0].ID != gen.ID {
		t.Errorf("after remove: %+v", got)
	}
	if r := call("GET", "/nope", ""); r.code != 404 {
		t.Errorf("unknown admin route: %d", r.code)
	} else {
		r.errorMsg(t)
	}
	if r := call("PUT", "/clients", ""); r.code != 405 {
		t.Errorf("PUT /clients: %d", r.code)
	}

	// Compaction and backup over the admin socket.
	r = call("POST", "/compact", "")
	var cr map[string]int64
	if r.code != 200 {
		t.Fatalf("compact: %d %s", r.code, r.body)
	}
	r.json(t, &cr)
	if cr["log_bytes"] <= 0 {
		t.Errorf("compact: %s", r.body)
	}
	r = call("GET", "/backup", "")
	if r.code != 200 || r.header.Get("Content-Type") != "application/x-tar" {
		t.Fatalf("backup: %d %q", r.code, r.header.Get("Content-Type"))
	}
	tr := tar.NewReader(bytes.NewReader(r.body))
	var names []string
	var logData []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("backup is not a tar: %v", err)
		}
		names = append(names, h.Name)
		if strings.HasSuffix(h.Name, store.LogName) {
			logData, _ = io.ReadAll(tr)
		}
	}
	if logData == nil || !bytes.Contains(logData, []byte(gen.ID)) {
		t.Errorf("backup %v lacks a log naming the client", names)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(logData), []byte("\n")) {
		if !json.Valid(line) {
			t.Errorf("backup log line is not JSON: %q", line)
		}
	}
}
