package httpx

import (
	"maps"
	"net"
	"net/http"
	"slices"
	"time"
)

// StreamHeaders are an event stream's own response headers.
var StreamHeaders = [...][2]string{
	{"Content-Type", "text/event-stream"},
	{"Cache-Control", "no-cache"},
	{"X-Accel-Buffering", "no"},
}

// StreamHead answers a HEAD of an event stream: what a GET would answer,
// without opening one.
func StreamHead(w http.ResponseWriter) {
	for _, kv := range StreamHeaders {
		w.Header().Set(kv[0], kv[1])
	}
	w.WriteHeader(http.StatusOK)
}

// Hijack takes the connection of an event stream's request and returns it
// with the response head (200, StreamHeaders, the headers set on w, Date)
// in a buffer, to be written first. The response is written by hand on the
// bare connection and runs until the connection closes (Connection:
// close), so the hub can hold the stream without a goroutine or buffers.
func Hijack(w http.ResponseWriter, now time.Time) (net.Conn, []byte, error) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	head := make([]byte, 0, 1024) // grows with the backlog, up to a chunk
	head = append(head, "HTTP/1.1 200 OK\r\n"...)
	for _, kv := range StreamHeaders {
		head = appendHeader(head, kv[0], kv[1])
	}
	head = append(head, "Connection: close\r\n"...)
	for _, k := range slices.Sorted(maps.Keys(w.Header())) {
		for _, v := range w.Header()[k] {
			head = appendHeader(head, k, v)
		}
	}
	head = appendHeader(head, "Date", now.UTC().Format(http.TimeFormat))
	return conn, append(head, "\r\n"...), nil
}

func appendHeader(dst []byte, k, v string) []byte {
	dst = append(dst, k...)
	dst = append(dst, ": "...)
	dst = append(dst, v...)
	return append(dst, "\r\n"...)
}

// ReplayChunk is how many bytes of a stream's backlog go out per write: a
// long one costs neither a buffer of its size nor one deadline for all.
const ReplayChunk = 64 << 10
