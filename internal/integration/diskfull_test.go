package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"rtchub/internal/server"
	"rtchub/internal/testkit"
	"rtchub/store"
)

// mountTmpfs mounts a tmpfs of size at a new directory and unmounts it at
// the end of the test; it skips the test where mounting is not possible
// (not root, no mount namespace rights).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	needRoot(t, "mount a tmpfs")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes zeros to a file in dir until the disk is full.
func fill(dir string) string {
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		return path
	}
	defer f.Close()
	zeros := make([]byte, 64<<10)
	for {
		if _, err := f.Write(zeros); err != nil {
			// Down to the last bytes: smaller writes take what is left.
			for _, n := range []int{4096, 512, 64, 1} {
				for {
					if _, err := f.Write(zeros[:n]); err != nil {
						break
					}
				}
			}
			return path
		}
	}
}

// TestDiskFullHealsForReal: with the data directory on a small real
// tmpfs, notifies from four clients go on while the disk is filled and
// freed again and again. Every answer is a 202 or a 507 (disk full, the
// change not kept); the hub answers /healthz and keeps its stream
// throughout, takes writes again each time space is back without a
// restart, and after a clean stop every 202 is in the log, which holds no
// torn record.
func TestDiskFullHealsForReal(t *testing.T) {
	t.Parallel()
	mnt := mountTmpfs(t, "8m")
	dir := filepath.Join(mnt, "data")
	child := testkit.StartChild(t, dir, "--max-pending", "-1")
	h := child.Hub
	h.PutUser(t, "ann")
	stream := testkit.DialSSE(t, h.SSE, h.UserToken(t, "ann", ""))
	appTok := h.AccessToken(t)

	var (
		mu       sync.Mutex
		accepted []string
		refused  int
		other    []string
		healthy  = map[int]int{}
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 4 * testkit.Guard}
	pad := strings.Repeat("x", 100)
	workers(&wg, stop, 4, 2*time.Millisecond, func(g, i int) bool {
		b, _ := json.Marshal(map[string]any{"users": []string{"ann"}, "message": map[string]any{"g": g, "i": i, "pad": pad}})
		req, _ := http.NewRequest("POST", h.API+"/api/message/notify", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+appTok)
		res, err := client.Do(req)
		if err != nil {
			mu.Lock()
			other = append(other, err.Error())
			mu.Unlock()
			return false
		}
		rb, _ := io.ReadAll(res.Body)
		res.Body.Close()
		mu.Lock()
		switch res.StatusCode {
		case 202:
			var rc testkit.Receipt
			json.Unmarshal(rb, &rc)
			accepted = append(accepted, rc.ID)
		case 507:
			refused++
			if !strings.Contains(string(rb), "disk full") || res.Header.Get("Retry-After") == "" {
				other = append(other, fmt.Sprintf("507 without the cause or Retry-After: %s", rb))
			}
		default:
			other = append(other, fmt.Sprintf("%d %s", res.StatusCode, rb))
		}
		mu.Unlock()
		return true
	})
	wg.Go(func() { // the health checker: the hub answers all along
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			r, err := client.Get(h.API + "/healthz")
			mu.Lock()
			if err != nil {
				other = append(other, "healthz: "+err.Error())
			} else {
				healthy[r.StatusCode]++
				r.Body.Close()
			}
			mu.Unlock()
		}
	})
	for cycle := range 3 {
		filler := fill(mnt)
		time.Sleep(700 * time.Millisecond)
		os.Remove(filler)
		mu.Lock()
		n := len(accepted)
		mu.Unlock()
		testkit.Eventually(t, fmt.Sprintf("writes accepted again after freeing space (cycle %d)", cycle), func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(accepted) > n+10
		})
		time.Sleep(300 * time.Millisecond) // some room: /healthz says ok again
	}
	close(stop)
	wg.Wait()
	t.Logf("%d notifies accepted, %d refused for space, healthz answers %v", len(accepted), refused, healthy)
	if len(other) > 0 {
		t.Errorf("answers other than 202 and 507: %v", other[:min(len(other), 5)])
	}
	if refused == 0 || healthy[503] == 0 || healthy[200] == 0 {
		t.Errorf("want refusals and /healthz both 503 (full) and 200 (healed): %d refused, healthz %v", refused, healthy)
	}
	select {
	case <-stream.Done():
		t.Error("the user's stream ended while the disk was full")
	default:
	}
	if err := child.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-child.Exited
	if code := child.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0\n%s", code, testkit.Tail(h.Log.String(), 20))
	}
	if out, code := runBinary(t, "verify", dir); code != 0 {
		t.Errorf("verify after the cycles: exit %d:\n%s", code, out)
	}
	h2 := testkit.StartHub(t, dir)
	h2.UseAccessToken(appTok)
	have := map[string]bool{}
	for after := uint64(0); ; {
		var page []struct {
			ID  string `json:"id"`
			Seq uint64 `json:"seq"`
		}
		h2.Must(t, 200, "GET", fmt.Sprintf("/api/user/ann/messages?limit=1000&after=%d", after), nil, &page)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			have[e.ID] = true
		}
		after = page[len(page)-1].Seq
	}
	missing := 0
	for _, id := range accepted {
		if !have[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d accepted messages are not pending after the restart (inbox holds %d)", missing, len(accepted), len(have))
	}
}

// failingLog is a log file whose writes fail with writeErr and whose syncs
// fail with syncErr (where not nil) while on is set.
type failingLog struct {
	store.LogFile
	on                *atomic.Bool
	writeErr, syncErr error
}

func (f failingLog) Write(b []byte) (int, error) {
	if f.writeErr != nil && f.on.Load() {
		return 0, f.writeErr
	}
	return f.LogFile.Write(b)
}

func (f failingLog) Datasync() error {
	if f.syncErr != nil && f.on.Load() {
		return f.syncErr
	}
	return f.LogFile.Datasync()
}

// startFailingHub starts a hub on dir whose log fails as failingLog does
// once the switch it returns is set.
func startFailingHub(t *testing.T, dir string, writeErr, syncErr error) (*testkit.Hub, *atomic.Bool) {
	t.Helper()
	var on atomic.Bool
	h := testkit.StartHub(t, dir, func(c *server.Config) {
		c.Store.WrapLog = func(l store.LogFile) store.LogFile { return failingLog{l, &on, writeErr, syncErr} }
	})
	return h, &on
}

// TestFailedSyncStopsTheHub: after a failed fsync the hub answers no more
// 2xx to writes and stops by itself with an error (rtchub serve then exits
// 1, and systemd's Restart=on-failure restarts it); the restart replays
// every write answered before.
func TestFailedSyncStopsTheHub(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h, fail := startFailingHub(t, dir, nil, syscall.EIO)
	h.PutUser(t, "ann")
	kept := h.Notify(t, map[string]any{"users": []string{"ann"}, "message": "kept"})
	fail.Store(true)
	r := h.Call(t, "POST", "/api/message/notify", map[string]any{"users": []string{"ann"}, "message": "lost"})
	// Written, but not known to be durable: the answer must not say
	// "not saved" (the restart may well read it back).
	testkit.WantError(t, "a write whose sync failed", r, 503, "may have been saved")
	if err := h.WaitExit(t, testkit.Guard); err == nil || !strings.Contains(err.Error(), "cannot be trusted") {
		t.Errorf("Run returned %v, want the poisoned log's error", err)
	}
	h2 := testkit.StartHub(t, dir)
	var inbox []struct {
		ID string `json:"id"`
	}
	h2.Must(t, 200, "GET", "/api/user/ann/messages", nil, &inbox)
	if len(inbox) < 1 || inbox[0].ID != kept.ID {
		t.Errorf("after the restart: %+v, want %s first", inbox, kept.ID)
	}
}

// TestHealthzHealsWithoutAWrite: once space is back, /healthz says so
// before any write has gone through: a monitor that stops the traffic
// while the disk is full does not see a hub that stays unhealthy.
func TestHealthzHealsWithoutAWrite(t *testing.T) {
	t.Parallel()
	mnt := mountTmpfs(t, "8m")
	h := testkit.StartHub(t, filepath.Join(mnt, "data"))
	h.PutUser(t, "ann")
	filler := fill(mnt)
	pad := strings.Repeat("x", 4096)
	if r := h.Call(t, "POST", "/api/message/notify", map[string]any{"users": []string{"ann"}, "message": pad}); r.Status != 507 {
		t.Fatalf("notify on a full disk: %v, want 507", r)
	}
	if r := testkit.Request(t, "GET", h.API+"/healthz", nil, nil); r.Status != 503 || !strings.Contains(string(r.Body), "disk full") {
		t.Fatalf("healthz on a full disk: %v, want 503 naming the disk", r)
	}
	os.Remove(filler)
	testkit.Eventually(t, "healthz 200 after freeing space, with no write", func() bool {
		return testkit.Request(t, "GET", h.API+"/healthz", nil, nil).Status == 200
	})
	h.Must(t, 202, "POST", "/api/message/notify", map[string]any{"users": []string{"ann"}, "message": pad}, nil)
}
