package sse_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"rtchub/sse"
)

func TestPage(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", "/", "")
	if r.Status != 200 {
		t.Fatalf("GET /: %d", r.Status)
	}
	h := r.Header
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}
	if h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q", h.Get("Referrer-Policy"))
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows unsafe code", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", h.Get("X-Content-Type-Options"))
	}
	body := string(r.Body)
	if !strings.Contains(strings.ToLower(body), "<!doctype html>") || !strings.Contains(body, `<script type="module" src="page.js"></script>`) {
		t.Errorf("page does not load page.js: %.300q", body)
	}
	// Under that CSP inline code would not run: there must be none.
	if m := regexp.MustCompile(`(?is)<script[^>]*>\s*[^<\s]|<style|\son[a-z]+=|style=`).FindString(body); m != "" {
		t.Errorf("page has inline code or styles: %q", m)
	}
	for _, p := range []string{"/", "/page.js", "/page.css", "/rtchub.js"} {
		b := e.do("GET", p, "").Body
		if urls := regexp.MustCompile(`(?i)https?://[a-z0-9-]+\.[a-z]|["'(=]//[a-z0-9-]+\.[a-z]`).FindAllString(string(b), -1); len(urls) > 0 {
			t.Errorf("%s references external URLs: %q", p, urls)
		}
	}
	if js := e.do("GET", "/page.js", "").Body; !bytes.Contains(js, []byte(`from './rtchub.js'`)) {
		t.Errorf("page.js does not import ./rtchub.js")
	}
	for _, p := range []string{"/index.html", "/x", "/sse/x", "/rtchub.js/x"} {
		if r := e.do("GET", p, ""); r.Status != 404 {
			t.Errorf("GET %s: %d, want 404", p, r.Status)
		} else {
			errorMsg(t, r)
		}
	}
	if r := e.do("GET", "/healthz", ""); r.Status != 200 || !bytes.Contains(r.Body, []byte(`"ok"`)) {
		t.Errorf("healthz: %d %q", r.Status, r.Body)
	}
}

// The browser client: a cross-origin ES module, revalidated on each load,
// within its size bound, readable.
func TestClientJS(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", "/rtchub.js", "", "Origin", "http://app.lan:8080")
	if r.Status != 200 {
		t.Fatalf("GET /rtchub.js: %d", r.Status)
	}
	h := r.Header
	for k, want := range map[string]string{
		"Content-Type":                 "text/javascript; charset=utf-8",
		"Access-Control-Allow-Origin":  "*",
		"Cache-Control":                "no-cache",
		"X-Content-Type-Options":       "nosniff",
		"Cross-Origin-Resource-Policy": "cross-origin",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if !bytes.Equal(r.Body, sse.ClientJS()) {
		t.Errorf("body is not the embedded client")
	}
	etag := h.Get("ETag")
	if etag == "" {
		t.Fatalf("no ETag")
	}
	if r := e.do("GET", "/rtchub.js", "", "If-None-Match", etag); r.Status != 304 || len(r.Body) != 0 {
		t.Errorf("If-None-Match: %d %d bytes, want 304 and no body", r.Status, len(r.Body))
	}
	for _, p := range []string{"/page.js", "/page.css"} {
		r := e.do("GET", p, "")
		if r.Status != 200 || r.Header.Get("ETag") == "" || !strings.Contains(r.Header.Get("Content-Type"), "charset=utf-8") {
			t.Errorf("GET %s: %d %q ETag %q", p, r.Status, r.Header.Get("Content-Type"), r.Header.Get("ETag"))
		}
	}

	js := sse.ClientJS()
	if len(js) > sse.MaxClientJS {
		t.Errorf("rtchub.js is %d bytes, over the %d bytes it must stay within", len(js), sse.MaxClientJS)
	}
	t.Logf("rtchub.js: %d bytes", len(js))
	lines := strings.Split(string(js), "\n")
	comments := 0
	for i, l := range lines {
		if len(l) > 120 {
			t.Errorf("rtchub.js:%d is %d characters long: keep it readable", i+1, len(l))
		}
		if strings.Contains(l, "// ") {
			comments++
		}
	}
	if len(lines) < 200 || comments < 30 {
		t.Errorf("rtchub.js has %d lines, %d of comments: it should read as source, not minified", len(lines), comments)
	}
	for _, name := range []string{"export const connect", "export class Inbox", "BroadcastChannel", "Last-Event-ID", "rtchub.reset", "rtchub.ack", "rtchub.recall", "getToken"} {
		if !bytes.Contains(js, []byte(name)) {
			t.Errorf("rtchub.js lacks %q", name)
		}
	}
	for _, bad := range []string{"import ", "require(", "eval(", "new Function", "navigator.locks", "SharedWorker"} {
		if bytes.Contains(js, []byte(bad)) {
			t.Errorf("rtchub.js uses %q", bad)
		}
	}
}
