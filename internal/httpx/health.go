package httpx

import (
	"net/http"

	"rtchub/store"
)

// Health answers 200 {"status":"ok"} while the store takes writes, else
// 503 saying why (detail, for the local API) or only that it cannot (for
// the LAN, which need not learn paths and system errors).
func Health(st *store.Store, detail bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := st.Healthy(); err != nil {
			msg := "unavailable"
			if detail {
				msg = "store is not writable: " + err.Error()
			}
			WriteError(w, http.StatusServiceUnavailable, msg)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}
