package sse_test

import (
	"strings"
	"testing"

	"rtchub/internal/server"
)

func TestCORS(t *testing.T) {
	t.Run("star", func(t *testing.T) {
		e := newEnv(t, nil)
		e.user("u1")
		s := e.open("/sse?token="+e.token("u1"), "Origin", "https://app.example")
		if got := s.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("stream ACAO %q, want *", got)
		}
		r := e.do("GET", "/sse", "", "Origin", "https://app.example")
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("error response ACAO %q, want * (so the page can read the error)", got)
		}
		// The router's own errors too.
		for _, c := range []struct {
			method, path string
			code         int
		}{{"POST", "/sse", 405}, {"GET", "/ack", 405}, {"GET", "/sse/", 404}, {"DELETE", "/", 405}} {
			r := e.do(c.method, c.path, "", "Origin", "https://app.example")
			if r.Status != c.code || r.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("%s %s: %d ACAO %q, want %d with ACAO * (so the page can read the error)", c.method, c.path, r.Status, r.Header.Get("Access-Control-Allow-Origin"), c.code)
			} else {
				errorMsg(t, r)
			}
		}
		rc := e.notify("message", "1", "u1")
		r = e.do("POST", "/ack?token="+e.token("u1"), `{"message_id":"`+rc.ID+`"}`, "Origin", "https://app.example")
		if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("ack: %d ACAO %q", r.Status, r.Header.Get("Access-Control-Allow-Origin"))
		}
		for _, p := range []string{"/sse", "/ack"} {
			r := e.do("OPTIONS", p, "", "Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
			if r.Status != 204 {
				t.Fatalf("OPTIONS %s: %d", p, r.Status)
			}
			h := r.Header
			if h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") ||
				!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") ||
				!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "last-event-id") ||
				!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "content-type") {
				t.Errorf("OPTIONS %s headers: %v", p, h)
			}
		}
	})
	t.Run("list", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) {
			c.SSE.CORSOrigins = []string{"https://a.example", "http://b.example:8080"}
		})
		e.user("u1")
		for _, origin := range []string{"https://a.example", "http://b.example:8080"} {
			s := e.open("/sse?token="+e.token("u1"), "Origin", origin)
			if got := s.Header.Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("stream from %s: ACAO %q", origin, got)
			}
			if !strings.Contains(s.Header.Get("Vary"), "Origin") {
				t.Errorf("stream from %s: Vary %q, want Origin", origin, s.Header.Get("Vary"))
			}
			s.Close()
			r := e.do("OPTIONS", "/ack", "", "Origin", origin, "Access-Control-Request-Method", "POST")
			if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(r.Header.Get("Vary"), "Origin") {
				t.Errorf("preflight from %s: %d %v", origin, r.Status, r.Header)
			}
		}
		for _, origin := range []string{"https://evil.example", "https://a.example.evil", "null", ""} {
			s := e.open("/sse?token="+e.token("u1"), "Origin", origin)
			if got, ok := s.Header["Access-Control-Allow-Origin"]; ok {
				t.Errorf("stream from %q: ACAO %q, want none", origin, got)
			}
			s.Close()
			r := e.do("OPTIONS", "/sse", "", "Origin", origin, "Access-Control-Request-Method", "GET")
			if got, ok := r.Header["Access-Control-Allow-Origin"]; ok {
				t.Errorf("preflight from %q: ACAO %q, want none", origin, got)
			}
			r = e.do("POST", "/ack?token="+e.token("u1"), `{"message_id":"x"}`, "Origin", origin)
			if got, ok := r.Header["Access-Control-Allow-Origin"]; ok {
				t.Errorf("ack from %q: ACAO %q, want none", origin, got)
			}
		}
	})
}
