//go:build rtchub_nopprof

package server

import "net/http"

// PprofBuilt says whether this binary can serve Go's profiles (--pprof):
// this one was built without them (-tags rtchub_nopprof).
const PprofBuilt = false

func withPprof(next http.Handler) http.Handler { return next }
