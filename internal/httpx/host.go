package httpx

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
)

// HostCheck answers 421 for a request whose Host is not one next is meant
// to serve: a page on a DNS-rebinding name (evil.example resolving to
// 127.0.0.1) in a browser on the box must not reach the local API. It
// takes "localhost", loopback addresses, the names in names, and, when the
// listener is not on loopback only (anyIP), any IP address: a page at an
// address is not a rebinding.
func HostCheck(next http.Handler, names []string, anyIP bool) http.Handler {
	allowed := make([]string, 0, len(names)+1)
	for _, n := range append(names, "localhost") {
		allowed = append(allowed, strings.TrimSuffix(strings.ToLower(n), "."))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host := hostOf(r.Host); host != "" && !slices.Contains(allowed, host) {
			ip := net.ParseIP(host)
			if ip == nil || !ip.IsLoopback() && !anyIP {
				WriteError(w, http.StatusMisdirectedRequest, fmt.Sprintf("this hub does not answer for the host %q (allow a name with --api-hosts)", Clip(r.Host)))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hostOf is the host of a Host header, lower case, without port, brackets
// or a final dot.
func hostOf(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(h, "]"), "["), ".")
	return strings.ToLower(h)
}
