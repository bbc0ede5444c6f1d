package testkit

import "testing"

// ReadyAddrs reads both listeners from the ready line as the hub logs it
// (lines copied from `rtchub serve` on port 0), in either format, and
// nothing from a log that lacks it or whose line is not yet whole.
func TestReadyAddrs(t *testing.T) {
	for _, tc := range []struct {
		name, log, api, sse string
		ok                  bool
	}{
		{"text", `time=2026-12-02T15:25:14.085Z level=INFO msg="store: log replayed" records=0
time=2026-12-02T15:25:14.085Z level=INFO msg="rtchub ready" version=dev api=127.0.0.1:39855 sse=127.0.0.1:36999 data_dir=/tmp/w/rd fsync=always
`, "127.0.0.1:39855", "127.0.0.1:36999", true},
		{"json", `{"time":"2026-12-02T15:25:17.079825926Z","level":"INFO","msg":"rtchub ready","version":"dev","api":"127.0.0.1:39911","sse":"127.0.0.1:35397","data_dir":"/tmp/w/rd","fsync":"always"}
`, "127.0.0.1:39911", "127.0.0.1:35397", true},
		{"a version that says api=", `time=x level=INFO msg="rtchub ready" version="api=1 sse=2" api=127.0.0.1:1 sse=127.0.0.1:2 data_dir=d fsync=always
`, "127.0.0.1:1", "127.0.0.1:2", true},
		{"not ready", "time=x level=INFO msg=\"store: log replayed\" records=0\n", "", "", false},
		{"half a line", `time=x level=INFO msg="rtchub ready" version=dev api=127.0.0.1:39855 sse=127.0.0.1:369`, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, sse, ok := ReadyAddrs(tc.log)
			if api != tc.api || sse != tc.sse || ok != tc.ok {
				t.Errorf("ReadyAddrs = %q, %q, %v; want %q, %q, %v", api, sse, ok, tc.api, tc.sse, tc.ok)
			}
		})
	}
}
