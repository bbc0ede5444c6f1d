package api

import (
	_ "embed"
	"net/http"
	"strconv"
)

// OpenAPI is api/openapi.json: the OpenAPI 3.1 description of every route
// of both listeners, served at GET /api/openapi.json. The tests hold the
// hub to it (openapi_test.go here; e2e validates every answer against it).
//
// The binary carries openapi.min.json, the same document compacted
// (TestOpenAPIMinIsCurrent keeps it so): the indentation alone would cost
// the arm64 release binary its size budget.
//
//go:embed openapi.min.json
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(OpenAPI)))
	h.Set("Cache-Control", "no-cache")
	w.Write(OpenAPI)
}
