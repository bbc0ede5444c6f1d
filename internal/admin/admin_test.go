package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"rtchub/auth"
	"rtchub/internal/admin"
	"rtchub/internal/testkit"
	"rtchub/internal/testkit/testio"
	"rtchub/store"
)

// adminCaller returns a function that sends a request to the admin socket
// in dir, as `rtchub client` and the other commands do, and returns the
// answer.
func adminCaller(t *testing.T, dir string) func(method, path, body string) testkit.Resp {
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(dir, admin.SocketName))
	}}}
	return func(method, path, body string) testkit.Resp {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, "http://rtchub"+path, rd)
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s over the admin socket: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return testkit.Resp{Status: res.StatusCode, Header: res.Header, Body: b}
	}
}

func TestAdminClients(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := testkit.StartHub(t, dir)
	st := h.Server.Store()
	call := adminCaller(t, dir)
	list := func() []admin.Client {
		t.Helper()
		r := call("GET", "/clients", "")
		if r.Status != 200 {
			t.Fatalf("GET /clients: %d %s", r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), "secret") {
			t.Errorf("client list shows secrets: %s", r.Body)
		}
		var out []admin.Client
		testkit.MustJSON(t, r.Body, &out)
		return out
	}
	if got := list(); len(got) != 1 || got[0].ID != testkit.ClientID {
		t.Fatalf("list of a new hub: %#v (want the test client only)", got)
	}

	// A generated id and secret.
	r := call("POST", "/clients", `{"name":"Web shop"}`)
	if r.Status != 201 {
		t.Fatalf("add: %d %s", r.Status, r.Body)
	}
	var gen admin.Client
	testkit.MustJSON(t, r.Body, &gen)
	if !auth.ValidID(gen.ID) || gen.Name != "Web shop" || len(gen.Secret) < 16 {
		t.Fatalf("generated client %s", r.Body)
	}
	c, _, ok := st.Client(gen.ID)
	if !ok || !auth.CheckSecret(c.Hash, gen.Secret) || strings.Contains(c.Hash, gen.Secret) {
		t.Fatalf("stored client %+v does not hold a hash of the secret", c)
	}

	// A chosen id and secret; the name defaults to the id.
	r = call("POST", "/clients", `{"client_id":"billing","client_secret":"correct-horse-battery"}`)
	if r.Status != 201 {
		t.Fatalf("add billing: %d %s", r.Status, r.Body)
	}
	var b admin.Client
	testkit.MustJSON(t, r.Body, &b)
	if b.ID != "billing" || b.Name != "billing" || b.Secret != "correct-horse-battery" {
		t.Errorf("billing: %s", r.Body)
	}
	got := list()
	if len(got) != 3 || !slices.IsSortedFunc(got, func(a, b admin.Client) int { return strings.Compare(a.ID, b.ID) }) {
		t.Errorf("list %+v: want 3 clients by id", got)
	}

	for _, body := range []string{`{"client_id":"bad id"}`, `{"name":"x","extra":1}`, `{`, ``} {
		if r := call("POST", "/clients", body); r.Status != 400 {
			t.Errorf("add %q: %d %s, want 400", body, r.Status, r.Body)
		} else {
			testkit.WantError(t, "admin error", r, r.Status, "")
		}
	}

	if r := call("DELETE", "/clients/billing", ""); r.Status != 204 {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	if r := call("DELETE", "/clients/billing", ""); r.Status != 404 || !strings.Contains(testkit.WantError(t, "admin error", r, r.Status, ""), "unknown client") {
		t.Errorf("remove again: %d %s", r.Status, r.Body)
	}
	if got := list(); len(got) != 2 || !slices.ContainsFunc(got, func(c admin.Client) bool { return c.ID == gen.ID }) {
		t.Errorf("after remove: %+v", got)
	}
	if r := call("GET", "/nope", ""); r.Status != 404 {
		t.Errorf("unknown admin route: %d", r.Status)
	} else {
		testkit.WantError(t, "admin error", r, r.Status, "")
	}
	if r := call("PUT", "/clients", ""); r.Status != 405 {
		t.Errorf("PUT /clients: %d", r.Status)
	}

	// Compaction and backup over the admin socket.
	r = call("POST", "/compact", "")
	var cr map[string]int64
	if r.Status != 200 {
		t.Fatalf("compact: %d %s", r.Status, r.Body)
	}
	testkit.MustJSON(t, r.Body, &cr)
	if cr["log_bytes"] <= 0 {
		t.Errorf("compact: %s", r.Body)
	}
	r = call("GET", "/backup", "")
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/x-tar" {
		t.Fatalf("backup: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	var names []string
	var logData []byte
	for _, e := range testio.ReadTar(t, bytes.NewReader(r.Body)) {
		names = append(names, e.Name)
		if strings.HasSuffix(e.Name, store.LogName) {
			logData = e.Data
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
