// Package integration holds rtchub's black-box tests: real hubs on
// loopback (started through internal/server, or as the built binary for
// crash and signal tests), spoken to over real HTTP and the real SSE wire
// format, asserting on what a client sees. It has no code of its own.
package integration
