package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago, for a child process that must be told its port.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Child is the rtchub binary running `serve` as a process of its own, for
// tests that kill it or send it signals.
type Child struct {
	*Hub
	Cmd    *exec.Cmd
	Exited <-chan struct{} // closed once the process has exited (Cmd.ProcessState is set)
}

// StartChild runs `rtchub serve` on dir with free loopback ports and
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
	apiAddr, sseAddr := FreeAddr(tb), FreeAddr(tb)
	lb := &LogBuffer{}
	args := append([]string{"serve", "--api-addr", apiAddr, "--sse-addr", sseAddr, "--data-dir", dir}, extra...)
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
	h := Remote(dir, "http://"+apiAddr, "http://"+sseAddr, lb)
	deadline := time.Now().Add(4 * Guard)
	for !Healthy(h.API) || !Healthy(h.SSE) {
		select {
		case <-exited:
			tb.Fatalf("child hub exited before it was ready:\n%s", lb.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("child hub not ready after %v:\n%s", 4*Guard, lb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &Child{Hub: h, Cmd: cmd, Exited: exited}
}
