package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildDir  string
)

// Binary builds the rtchub command once per test process and returns its
// path. RemoveBinary deletes it (call it from TestMain).
func Binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "rtchub-test-bin-")
		if buildErr != nil {
			return
		}
		builtBin = filepath.Join(buildDir, "rtchub")
		out, err := exec.Command("go", "build", "-o", builtBin, "rtchub").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		if fi, err := os.Stat(builtBin); err != nil || fi.Mode()&0o111 == 0 {
			buildErr = fmt.Errorf("go build left %s not executable: %v %v\n%s", builtBin, fi.Mode(), err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return builtBin
}

// RemoveBinary removes what Binary built.
func RemoveBinary() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// readyLine is the "rtchub ready" line of a hub's log, in text or JSON:
// the listeners' addresses as the hub bound them.
var readyLine = regexp.MustCompile(`msg="rtchub ready" .*?\sapi=([^\s"]+:\d+) sse=([^\s"]+:\d+)\s|"msg":"rtchub ready".*?"api":"([^"]+)","sse":"([^"]+)"`)

// ReadyAddrs returns the API and SSE addresses a hub started on port 0
// bound, from the "rtchub ready" line of its log; ok is false until the
// line is there. Binding port 0 and reading it back leaves no window in
// which another test takes a port picked beforehand.
func ReadyAddrs(log string) (api, sse string, ok bool) {
	m := readyLine.FindStringSubmatch(log)
	switch {
	case m == nil:
		return "", "", false
	case m[1] != "":
		return m[1], m[2], true
	default:
		return m[3], m[4], true
	}
}

// WaitReady waits until log has the "rtchub ready" line, or exited is
// closed, and returns the hub's base URLs once both answer /healthz.
func WaitReady(tb testing.TB, log *LogBuffer, exited <-chan struct{}) (api, sse string) {
	tb.Helper()
	deadline := time.Now().Add(4 * Guard)
	for {
		select {
		case <-exited:
			tb.Fatalf("hub exited before it was ready:\n%s", log.String())
		default:
		}
		if a, s, ok := ReadyAddrs(log.String()); ok && Healthy("http://"+a) && Healthy("http://"+s) {
			return "http://" + a, "http://" + s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("hub not ready after %v:\n%s", 4*Guard, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Child is the rtchub binary running `serve` as a process of its own, for
// tests that kill it or send it signals.
type Child struct {
	*Hub
	Cmd    *exec.Cmd
	Exited <-chan struct{} // closed once the process has exited (Cmd.ProcessState is set)
}

// StartChild runs `rtchub serve` on dir on loopback ports of its own and
// extra flags, with the test client in its environment, and waits until
// both listeners answer /healthz. The process is killed at the end of the
// test if it still runs.
func StartChild(tb testing.TB, dir string, extra ...string) *Child {
	tb.Helper()
	return StartChildVia(tb, nil, dir, extra...)
}

// StartChildVia is StartChild with the command run through via (say,
// a shell that first moves itself into a cgroup): via's words, then the
// binary and its arguments.
func StartChildVia(tb testing.TB, via []string, dir string, extra ...string) *Child {
	tb.Helper()
	bin := Binary(tb)
	lb := &LogBuffer{}
	args := append([]string{"serve", "--api-addr", "127.0.0.1:0", "--sse-addr", "127.0.0.1:0", "--data-dir", dir}, extra...)
	argv := append(append(append([]string(nil), via...), bin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"RTCHUB_CLIENT_ID=" + ClientID, "RTCHUB_CLIENT_SECRET=" + ClientSecret}
	cmd.Stderr = lb
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	api, sse := WaitReady(tb, lb, exited)
	h := Remote(dir, api, sse, lb)
	return &Child{Hub: h, Cmd: cmd, Exited: exited}
}
