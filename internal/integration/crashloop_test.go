package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"rtchub/internal/testkit"
)

// TestCrashLoop runs the built binary through many SIGKILLs at random
// moments while 16 notifiers send as fast as they can, each to its own
// user. After the last cycle every notify that was answered 202 must be
// replayed to its user, and nothing else may be: the only extra messages
// allowed are the ones whose request was in flight at a kill (sent, never
// answered), at most one per notifier per cycle.
func TestCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop skipped in -short mode")
	}
	t.Parallel()
	const notifiers, cycles = 16, 8
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	t.Logf("seed %d", seed)

	dir := filepath.Join(t.TempDir(), "data")

	type key struct{ G, I, C int }
	var (
		mu       sync.Mutex
		answered = map[key]string{} // attempt -> message id
		inflight = map[key]bool{}   // attempts with no answer at a kill
		refused  []string           // non-202 answers
	)
	users := make([]string, notifiers)
	for g := range users {
		users[g] = fmt.Sprintf("crash%d", g)
	}
	for c := range cycles {
		cmd, exited, h := startChild(t, dir, "--max-pending", "-1")
		if c == 0 {
			for _, u := range users {
				h.PutUser(t, u)
			}
		}
		tok := h.AccessToken(t)
		tr := &http.Transport{MaxIdleConnsPerHost: notifiers}
		client := &http.Client{Transport: tr, Timeout: 4 * testkit.Guard}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		workers(&wg, stop, notifiers, 0, func(g, i int) bool {
			k := key{g, i, c}
			b, _ := json.Marshal(map[string]any{"users": []string{users[g]}, "message": k})
			req, _ := http.NewRequest("POST", h.API+"/api/message/notify", bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := client.Do(req)
			if err != nil {
				mu.Lock()
				inflight[k] = true
				mu.Unlock()
				return false
			}
			rb, rerr := io.ReadAll(res.Body)
			res.Body.Close()
			var rc testkit.Receipt
			if rerr != nil || res.StatusCode != http.StatusAccepted || json.Unmarshal(rb, &rc) != nil {
				mu.Lock()
				inflight[k] = true
				select {
				case <-stop:
				default:
					refused = append(refused, fmt.Sprintf("cycle %d: %d %s %v", c, res.StatusCode, rb, rerr))
				}
				mu.Unlock()
				return false
			}
			mu.Lock()
			answered[k] = rc.ID
			mu.Unlock()
			return true
		})
		time.Sleep(time.Duration(50+rng.IntN(450)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		<-exited
		tr.CloseIdleConnections()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refused) > 0 {
		t.Errorf("non-202 answers while the hub was up: %v", refused)
	}
	t.Logf("%d cycles: %d notifies answered 202, %d in flight at a kill", cycles, len(answered), len(inflight))
	if len(answered) == 0 {
		t.Fatal("no notify was answered")
	}

	h := testkit.StartHub(t, dir, noPendingCap)
	type data struct {
		ID      string
		Seq     uint64
		Message key
	}
	seen := map[key]bool{}
	lastSeq := map[uint64]bool{}
	for _, u := range users {
		want := h.User(t, u).Pending
		s := testkit.DialSSE(t, h.SSE, h.UserToken(t, u, ""))
		var prev uint64
		for range want {
			var d data
			testkit.MustJSON(t, []byte(s.Next(t, testkit.Guard).Data), &d)
			if d.Seq <= prev || lastSeq[d.Seq] {
				t.Errorf("%s: seq %d after %d (or seen twice)", u, d.Seq, prev)
			}
			prev, lastSeq[d.Seq] = d.Seq, true
			if seen[d.Message] {
				t.Errorf("%s: attempt %+v replayed twice", u, d.Message)
			}
			seen[d.Message] = true
			id, ok := answered[d.Message]
			switch {
			case ok && id != d.ID:
				t.Errorf("%s: attempt %+v answered as %s, replayed as %s", u, d.Message, id, d.ID)
			case !ok && !inflight[d.Message]:
				t.Errorf("%s: replayed %+v, which was never sent", u, d.Message)
			}
		}
		s.Close()
	}
	lost := 0
	for k, id := range answered {
		if !seen[k] {
			lost++
			if lost <= 10 {
				t.Errorf("answered 202 as %s but not replayed: %+v", id, k)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged notifies lost", lost, len(answered))
	}
}
