//go:build !rtchub_nopprof

package server

import (
	"net/http"
	"net/http/pprof"
)

// PprofBuilt says whether this binary can serve Go's profiles (--pprof);
// release builds leave them out (-tags rtchub_nopprof) to save half a MiB.
const PprofBuilt = true

func withPprof(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", next)
	return mux
}
