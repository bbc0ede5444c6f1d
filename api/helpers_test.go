package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"rtchub/api"
	"rtchub/auth"
	"rtchub/hub"
	"rtchub/store"
)

// env is a real API server on loopback over a real store.
type env struct {
	t      testing.TB
	st     *store.Store
	hub    *hub.Hub
	signer *auth.Signer
	srv    *httptest.Server
	cfg    api.Config
	token  string // a valid access token of client "app"
}

func newSigner(tb testing.TB) *auth.Signer {
	tb.Helper()
	key := make([]byte, auth.KeySize)
	rand.Read(key)
	s, err := auth.NewSigner(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func openStore(tb testing.TB) *store.Store {
	tb.Helper()
	st, err := store.Open(store.Options{Dir: tb.TempDir(), Fsync: store.FsyncNever})
	if err != nil {
		tb.Fatalf("store.Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func newEnv(tb testing.TB, mod func(*api.Config)) *env {
	tb.Helper()
	e := &env{t: tb, st: openStore(tb), signer: newSigner(tb)}
	e.hub = hub.New(hub.Options{})
	tb.Cleanup(func() { e.hub.Close(0) })
	e.cfg = api.Config{Store: e.st, Hub: e.hub, Signer: e.signer, Metrics: api.Metrics(e.st, e.hub, "v-test")}
	if mod != nil {
		mod(&e.cfg)
	}
	e.srv = httptest.NewServer(api.New(e.cfg))
	tb.Cleanup(e.srv.Close)
	// The client's hash is irrelevant to routes that take a token.
	if _, err := e.st.PutClient(context.Background(), "app", "app", "$2a$10$notarealhashnotarealhashnotarealhashnotarealhashnota"); err != nil {
		tb.Fatal(err)
	}
	e.token = e.clientToken("app", time.Hour)
	return e
}

func (e *env) clientToken(id string, ttl time.Duration) string {
	_, gen, _ := e.st.Client(id)
	now := time.Now()
	return e.signer.Sign(auth.Claims{Kind: auth.KindClient, Subject: id, Gen: gen, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(ttl)})
}

type resp struct {
	code   int
	header http.Header
	body   []byte
}

func (r resp) json(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("response body is not JSON (%v): %q", err, r.body)
	}
}

// errorMsg checks r is a JSON error body and returns its message.
func (r resp) errorMsg(tb testing.TB) string {
	tb.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("error response Content-Type = %q, want application/json (body %q)", ct, r.body)
	}
	var m map[string]any
	r.json(tb, &m)
	msg, ok := m["error"].(string)
	if !ok || len(m) != 1 || msg == "" {
		tb.Fatalf("error body is not {\"error\": \"...\"}: %q", r.body)
	}
	return msg
}

// do sends a request with the env's access token (unless tok is given).
func (e *env) do(method, path, body string, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
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
	return doReq(e.t, req)
}

func doReq(tb testing.TB, req *http.Request) resp {
	tb.Helper()
	c := &http.Client{
		Timeout:       60 * time.Second, // bcrypt under -race on a busy machine is slow
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	res, err := c.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp{res.StatusCode, res.Header, b}
}

func (e *env) mustStatus(r resp, want int, what string) {
	e.t.Helper()
	if r.code != want {
		e.t.Fatalf("%s: status %d, want %d; body %q", what, r.code, want, r.body)
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
