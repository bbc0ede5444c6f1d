package httpx_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"rtchub/internal/httpx"
)

// BenchmarkDecodeJSON decodes a notify-sized body on each path.
func BenchmarkDecodeJSON(b *testing.B) {
	const body = `{"users":["u0042"],"message":{"sb":"ssebench:1764750000:4242:1764750000123456789:"}}`
	type notify struct {
		Users   []string        `json:"users"`
		Groups  []string        `json:"groups"`
		Message json.RawMessage `json:"message"`
		Event   string          `json:"event"`
	}
	type nested struct {
		Users   []string        `json:"users"`
		Message json.RawMessage `json:"message"`
		Inner   struct{ X int } `json:"inner"`
	}
	run := func(b *testing.B, target func() any) {
		b.ReportAllocs()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/", nil)
		var sr strings.Reader
		for b.Loop() {
			sr.Reset(body)
			req.Body = io.NopCloser(&sr)
			if !httpx.DecodeJSON(rec, req, 1<<20, target()) {
				b.Fatal(rec.Body.String())
			}
		}
	}
	b.Run("flat", func(b *testing.B) { run(b, func() any { return &notify{} }) })
	b.Run("nested", func(b *testing.B) { run(b, func() any { return &nested{} }) })
}
