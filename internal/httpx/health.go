package httpx

import (
	"net/http"

	"rtchub/store"
)

// Health answers 200 {"status":"ok"} while the store takes writes.
func Health(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := st.Healthy(); err != nil {
			WriteError(w, http.StatusServiceUnavailable, "store is not writable: "+err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}
