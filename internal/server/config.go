package server

import (
	"time"

	"rtchub/api"
	"rtchub/hub"
	"rtchub/internal/httpx"
	"rtchub/sse"
	"rtchub/store"
)

// Config is everything `rtchub serve` can be told. DefaultConfig gives the
// documented defaults; the flags of `rtchub serve` start from it.
type Config struct {
	APIAddr string // API listener: /api/..., /healthz, /metrics
	SSEAddr string // SSE listener: /sse, /ack, /, /healthz
	// APIHosts are names besides localhost and loopback addresses that
	// the API answers for in a Host header (see httpx.HostCheck).
	APIHosts []string

	Store store.Options // Store.Dir is the data directory
	Hub   hub.Options
	API   api.Options
	SSE   sse.Options
	// MaxBody is the request body limit of both listeners; it overrides
	// API.MaxBody and SSE.MaxBody.
	MaxBody int64

	ShutdownTimeout   time.Duration // grace for requests and stream writes at shutdown
	ReadHeaderTimeout time.Duration // both listeners
	IdleTimeout       time.Duration // keep-alive idle timeout, both listeners
	Pprof             bool          // Go's /debug/pprof/ on the API listener

	// Client, when its ID is set, is created at start or its secret
	// updated; with no client at all, one is made and its secret logged.
	Client ClientCredentials

	Version string // for the log and rtchub_build_info
}

// ClientCredentials name an application client.
type ClientCredentials struct{ ID, Secret string }

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		APIAddr:           "127.0.0.1:4501",
		SSEAddr:           "0.0.0.0:4500",
		Store:             store.DefaultOptions(),
		Hub:               hub.DefaultOptions(),
		API:               api.DefaultOptions(),
		SSE:               sse.DefaultOptions(),
		MaxBody:           httpx.DefaultMaxBody,
		ShutdownTimeout:   5 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		Version:           "dev",
	}
}
