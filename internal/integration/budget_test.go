package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"rtchub/internal/bench"
	"rtchub/internal/testkit"
)

// memoryCgroup makes a memory cgroup limited to limit bytes (v1
// memory.limit_in_bytes, or v2 memory.max) and returns the file a process
// writes its pid to, to join it. It skips the test where that cannot be
// done (not root, no writable cgroup hierarchy).
func memoryCgroup(t *testing.T, limit int64) string {
	t.Helper()
	needRoot(t, "make a cgroup")
	name := fmt.Sprintf("rtchub-test-%d", os.Getpid())
	for _, c := range []struct{ root, file string }{
		{"/sys/fs/cgroup/memory", "memory.limit_in_bytes"},
		{"/sys/fs/cgroup", "memory.max"},
	} {
		if _, err := os.Stat(filepath.Join(c.root, c.file)); err != nil && c.file == "memory.limit_in_bytes" {
			continue
		}
		dir := filepath.Join(c.root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			continue
		}
		t.Cleanup(func() {
			for range 50 {
				if os.Remove(dir) == nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
		if err := os.WriteFile(filepath.Join(dir, c.file), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
			t.Skipf("cannot limit %s: %v", dir, err)
		}
		// No swap to hide in, where the kernel counts it.
		os.WriteFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0o644)
		os.WriteFile(filepath.Join(dir, "memory.swap.max"), []byte("0"), 0o644)
		return filepath.Join(dir, "cgroup.procs")
	}
	t.Skip("no writable memory cgroup hierarchy")
	return ""
}

// rssOf is a process's VmRSS in bytes.
func rssOf(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// TestBudgetInASmallCgroup: a hub in a 64 MiB memory cgroup, 1,000 users
// in one group reading, 150 broadcasts a second that nobody acknowledges:
// three million copies, more than fit (without the budget the hub was
// OOM-killed after about 1,450 broadcasts, on 2026-12-01). The hub sizes
// its budget from the cgroup, drops the oldest copies hub-wide, stays
// alive and delivers every live event; restarted in the same cgroup it
// replays within the limit.
func TestBudgetInASmallCgroup(t *testing.T) {
	if testing.Short() {
		t.Skip("a 20 s flood")
	}
	// Not parallel: beside the crash and disk-full tests the flood's
	// readers fall behind, and a stream cut for that is not what this
	// test is about.
	const limit = 64 << 20
	procs := memoryCgroup(t, limit)
	join := []string{"sh", "-c", `echo $$ > "$0" && exec "$@"`, procs}
	dir := t.TempDir()
	child := testkit.StartChildVia(t, join, dir)
	h := child.Hub
	if strings.Contains(h.Log.String(), "memory_bytes=") && !strings.Contains(h.Log.String(), fmt.Sprintf("memory_bytes=%d", limit)) {
		t.Errorf("the budget was not sized from the cgroup:\n%s", testkit.Tail(h.Log.String(), 10))
	}
	budget := h.Metric(t, "rtchub_pending_budget")
	if budget <= 0 || budget > limit/100 {
		t.Fatalf("budget %v copies for a %d-byte cgroup", budget, limit)
	}
	peak := int64(0)
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			peak = max(peak, rssOf(child.Cmd.Process.Pid))
		}
	}()
	out, code := runBinary(t, "bench", "--api", h.API, "--sse", h.SSE, "--client-id", testkit.ClientID, "--client-secret", testkit.ClientSecret,
		"--scenario", "broadcast", "--streams", "1000", "--notifies", "3000", "--rate", "150", "--keep", "--timeout", "2m")
	close(done)
	<-sampled
	if code != 0 {
		t.Fatalf("bench: exit %d: %s", code, out)
	}
	var res bench.Result
	if err := json.Unmarshal([]byte(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]), &res); err != nil {
		t.Fatalf("bench output %q: %v", out, err)
	}
	t.Logf("delivered %d of %d events, lost %d; hub RSS peak %d MiB; dropped over the budget %v of budget %v",
		res.Delivered, res.Expected, res.Lost, peak>>20, h.Metric(t, "rtchub_copies_over_budget_total"), budget)
	if res.NotifyErrors != 0 || res.Lost != 0 || res.Duplicated != 0 || res.Expected != 3000*1000 {
		t.Errorf("bench: %d notify errors, %d lost, %d duplicated of %d expected (%s)", res.NotifyErrors, res.Lost, res.Duplicated, res.Expected, res.FirstError)
	}
	select {
	case <-child.Exited:
		t.Fatalf("the hub died in the flood: %v\n%s", child.Cmd.ProcessState, testkit.Tail(h.Log.String(), 20))
	default:
	}
	if cost := h.Metric(t, "rtchub_pending_cost"); cost > budget || h.Metric(t, "rtchub_copies_over_budget_total") == 0 {
		t.Errorf("pending cost %v over the budget %v, or nothing was dropped", cost, budget)
	}

	// Restart in the same cgroup: the replay keeps to the budget too.
	if err := child.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-child.Exited
	again := testkit.StartChildVia(t, join, dir)
	rss := rssOf(again.Cmd.Process.Pid)
	if cost := again.Hub.Metric(t, "rtchub_pending_cost"); cost > budget {
		t.Errorf("after the restart the pending cost %v is over the budget %v", cost, budget)
	}
	t.Logf("after the restart: RSS %d MiB", rss>>20)
	if rss > limit {
		t.Errorf("RSS %d after the replay, over the cgroup's %d", rss, limit)
	}
}
