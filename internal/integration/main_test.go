package integration

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
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
func runBinary(t testing.TB, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t), args...)
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("rtchub %v: %v", args, err)
	}
	return string(out), cmd.ProcessState.ExitCode()
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
