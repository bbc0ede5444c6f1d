package integration

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
	"rtchub/store"
)

// TestMain lets more of these tests run at once than the default
// -parallel (GOMAXPROCS): they mostly wait on fsync, bcrypt in another hub,
// or the network, not on a CPU. An explicit -parallel wins.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && runtime.GOMAXPROCS(0) < 4 {
		flag.Set("test.parallel", "4")
	}
	code := m.Run()
	testkit.RemoveBinary()
	os.Exit(code)
}

// noPendingCap is --max-pending -1.
func noPendingCap(c *server.Config) { c.Store.MaxPending = -1 }

// startChild runs the built binary as `rtchub serve` on dir (see
// testkit.StartChild).
func startChild(t testing.TB, dir string, extra ...string) (*exec.Cmd, <-chan struct{}, *testkit.Hub) {
	t.Helper()
	c := testkit.StartChild(t, dir, extra...)
	return c.Cmd, c.Exited, c.Hub
}

// runBinary runs the built rtchub with args and returns what it printed
// (stdout and stderr) and its exit code.
//
// A hub this process ran on a data directory holds its lock until Stop,
// and a moment longer when another test forks a child then (the child
// holds a copy of the lock's fd until it execs): a command refused for
// that lock (verify; compact and backup ask a running hub's admin socket
// instead) is run again for up to testkit.Guard.
func runBinary(t testing.TB, args ...string) (string, int) {
	t.Helper()
	deadline := time.Now().Add(testkit.Guard)
	for {
		cmd := exec.Command(testkit.Binary(t), args...)
		cmd.Env = []string{}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("rtchub %v: %v", args, err)
		}
		code := cmd.ProcessState.ExitCode()
		if code == 0 || !strings.Contains(string(out), store.ErrLocked.Error()) || time.Now().After(deadline) {
			return string(out), code
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// needRoot skips the test unless it runs as root, which it needs to do
// what to says.
func needRoot(t *testing.T, to string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to " + to)
	}
}

// workers starts n goroutines on wg that load a hub until a test kills it
// or fills its disk: goroutine g calls step(g, i) for i = 0, 1, ... until
// stop is closed or step returns false, waiting pause before each step.
func workers(wg *sync.WaitGroup, stop <-chan struct{}, n int, pause time.Duration, step func(g, i int) bool) {
	for g := range n {
		wg.Go(func() {
			for i := 0; ; i++ {
				if pause > 0 {
					select {
					case <-stop:
						return
					case <-time.After(pause):
					}
				} else {
					select {
					case <-stop:
						return
					default:
					}
				}
				if !step(g, i) {
					return
				}
			}
		})
	}
}
