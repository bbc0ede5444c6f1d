package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"rtchub/auth"
	"rtchub/hub"
	"rtchub/internal/server"
	"rtchub/internal/testkit"
	"rtchub/store"
)

// env is a real hub on loopback, started as `rtchub serve` starts one;
// the tests talk to its API listener and look at its store.
type env struct {
	t      testing.TB
	h      *testkit.Hub
	url    string // the API listener
	st     *store.Store
	hub    *hub.Hub
	signer *auth.Signer
	token  string // a valid access token of the test client
}

// newEnv starts a hub with testkit's Config, changed by mod.
func newEnv(tb testing.TB, mod func(*server.Config)) *env {
	tb.Helper()
	h := testkit.StartHub(tb, tb.TempDir(), func(c *server.Config) {
		c.Store.Fsync = store.FsyncNever
		if mod != nil {
			mod(c)
		}
	})
	e := &env{t: tb, h: h, url: h.API, st: h.Server.Store(), hub: h.Server.Hub(), signer: h.Server.Signer()}
	e.token = e.clientToken(testkit.ClientID, time.Hour)
	return e
}

func (e *env) clientToken(id string, ttl time.Duration) string {
	_, gen, _ := e.st.Client(id)
	return testkit.ClientToken(e.signer, id, gen, ttl)
}

// errorMsg checks r is a JSON error body and returns its message.
func errorMsg(tb testing.TB, r testkit.Resp) string {
	tb.Helper()
	return testkit.WantError(tb, "error answer", r, r.Status, "")
}

// do sends a request with the env's access token (unless tok is given).
func (e *env) do(method, path, body string, hdr ...string) testkit.Resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	return testkit.Do(e.t, req)
}

func (e *env) mustStatus(r testkit.Resp, want int, what string) {
	e.t.Helper()
	if r.Status != want {
		e.t.Fatalf("%s: status %d, want %d; body %q", what, r.Status, want, r.Body)
	}
}

// compact returns s as compact JSON.
func compact(tb testing.TB, s string) string {
	tb.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}
