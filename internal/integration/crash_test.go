package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"rtchub/internal/testkit"
	"rtchub/store"
)

// TestCrashKill9 sends notifies as fast as 8 clients can, SIGKILLs the hub
// mid-stream, restarts it on the same data directory, and checks that every
// message answered 202 is replayed to each of its recipients.
func TestCrashKill9(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	cmd, exited, h := startChild(t, dir, "--max-pending", "-1")

	users := []string{"u0", "u1", "u2", "u3"}
	h.PutGroup(t, "evens")
	h.PutGroup(t, "all")
	for i, u := range users {
		if i%2 == 0 {
			h.PutUser(t, u, "evens", "all")
		} else {
			h.PutUser(t, u, "all")
		}
	}
	members := map[string][]string{"evens": {"u0", "u2"}, "all": users}
	appTok := h.AccessToken(t)

	type attempt struct {
		G, I   int
		ID     string
		Seq    uint64
		To     []string // expected recipients
		Failed bool     // no answer: in flight at the kill
	}
	var (
		mu       sync.Mutex
		answered = map[string]attempt{} // by message id
		inflight = map[[2]int]attempt{} // by (g, i)
		early    []string               // non-202 answers before the kill
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	client := &http.Client{Transport: tr, Timeout: 4 * testkit.Guard}
	workers(&wg, stop, 8, 0, func(g, i int) bool {
		body := map[string]any{"message": map[string]int{"g": g, "i": i}}
		var to []string
		switch (g + i) % 4 {
		case 0:
			u := users[(g+i/4)%4]
			body["users"], to = []string{u}, []string{u}
		case 1:
			body["groups"], to = []string{"evens"}, members["evens"]
		case 2:
			body["groups"], body["users"], to = []string{"all"}, []string{"u1"}, users
		case 3:
			body["users"], to = []string{"u1", "u3"}, []string{"u1", "u3"}
		}
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", h.API+"/api/message/notify", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+appTok)
		res, err := client.Do(req)
		a := attempt{G: g, I: i, To: to}
		if err != nil {
			a.Failed = true
			mu.Lock()
			inflight[[2]int{g, i}] = a
			mu.Unlock()
			return false
		}
		rb, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 202 {
			a.Failed = true
			mu.Lock()
			inflight[[2]int{g, i}] = a
			select {
			case <-stop:
			default:
				early = append(early, fmt.Sprintf("%d %s (err %v)", res.StatusCode, rb, err))
			}
			mu.Unlock()
			return false
		}
		var rc testkit.Receipt
		if err := json.Unmarshal(rb, &rc); err != nil || rc.ID == "" || rc.Recipients != len(to) {
			mu.Lock()
			early = append(early, fmt.Sprintf("bad 202 body %s for %d recipients", rb, len(to)))
			mu.Unlock()
			return false
		}
		a.ID, a.Seq = rc.ID, rc.Seq
		mu.Lock()
		answered[rc.ID] = a
		mu.Unlock()
		return true
	})
	time.Sleep(2 * time.Second)
	mu.Lock()
	n := len(answered)
	mu.Unlock()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	close(stop)
	wg.Wait()
	select {
	case <-exited:
	case <-time.After(testkit.Guard):
		t.Fatal("the killed hub did not exit")
	}
	tr.CloseIdleConnections()
	t.Logf("%d notifies answered 202 (%d at the moment of the kill), %d in flight", len(answered), n, len(inflight))
	if len(early) > 0 {
		t.Errorf("non-202 answers before the kill: %v", early)
	}
	if len(answered) == 0 {
		t.Fatal("no notify was answered; nothing to check")
	}
	// Seqs of answered notifies are unique.
	seqs := map[uint64]string{}
	for id, a := range answered {
		if other, dup := seqs[a.Seq]; dup {
			t.Errorf("seq %d answered for both %s and %s", a.Seq, id, other)
		}
		seqs[a.Seq] = id
	}

	// rtchub verify accepts what a crash leaves: at most a torn tail,
	// which it reports (exit 1) and the next start cuts.
	if out, code := runBinary(t, "verify", dir); code != 0 && !strings.Contains(out, "damaged last record") {
		t.Errorf("rtchub verify after kill -9: exit %d\n%s", code, out)
	} else {
		t.Logf("rtchub verify after kill -9: %s", strings.TrimSpace(out))
	}

	h2 := testkit.StartHub(t, dir, noPendingCap)
	h2.UseAccessToken(appTok)
	streams := map[string]*testkit.Stream{}
	for _, u := range users {
		streams[u] = testkit.DialSSE(t, h2.SSE, h2.UserToken(t, u, ""))
		if streams[u].Status != 200 {
			t.Fatalf("stream of %s: %d %s", u, streams[u].Status, streams[u].Body)
		}
	}
	marker := h2.Notify(t, map[string]any{"groups": []string{"all"}, "message": "marker"})
	// With --fsync=always every seq a client saw is in the log: the
	// restart after the kill needs no jump past them.
	if marker.Seq >= store.SeqGap {
		t.Errorf("seq %d after kill -9 with --fsync=always: the hub jumped seqs it need not have", marker.Seq)
	}
	for _, u := range users {
		want := map[string]attempt{}
		for id, a := range answered {
			if slices.Contains(a.To, u) {
				want[id] = a
			}
		}
		var got []dataJSON
		for {
			ev := streams[u].Next(t, 4*testkit.Guard)
			d := decodeData(t, ev)
			if d.ID == marker.ID {
				break
			}
			got = append(got, d)
		}
		seen := map[string]bool{}
		var last uint64
		extra := 0
		for _, d := range got {
			if d.Seq <= last {
				t.Errorf("%s: seq %d after %d: not strictly increasing", u, d.Seq, last)
			}
			last = d.Seq
			if seen[d.ID] {
				t.Errorf("%s: message %s replayed twice", u, d.ID)
			}
			seen[d.ID] = true
			var body struct{ G, I int }
			json.Unmarshal(d.Message, &body)
			if a, ok := want[d.ID]; ok {
				if a.Seq != d.Seq || a.G != body.G || a.I != body.I {
					t.Errorf("%s: message %s is seq %d %s, was answered as seq %d g=%d i=%d", u, d.ID, d.Seq, d.Message, a.Seq, a.G, a.I)
				}
				continue
			}
			// Not answered: it must be one of the requests in flight at
			// the kill (committed, answer lost), addressed to u.
			mu.Lock()
			a, ok := inflight[[2]int{body.G, body.I}]
			mu.Unlock()
			if !ok || !slices.Contains(a.To, u) {
				t.Errorf("%s: unknown message %s seq %d %s appeared after the crash", u, d.ID, d.Seq, d.Message)
			}
			extra++
		}
		missing := 0
		for id, a := range want {
			if !seen[id] {
				missing++
				if missing <= 5 {
					t.Errorf("%s: message %s (seq %d, g=%d i=%d) was answered 202 but is not replayed after the crash", u, id, a.Seq, a.G, a.I)
				}
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d acknowledged (202) messages lost", u, missing, len(want))
		}
		if p := h2.User(t, u).Pending; p != len(got)+1 {
			t.Errorf("%s: pending %d, want %d replayed + the marker", u, p, len(got))
		}
		t.Logf("%s: %d replayed (%d answered, %d from requests in flight)", u, len(got), len(want), extra)
	}
}

// TestSignals: the binary exits 0 on SIGTERM and SIGINT, ending open
// streams cleanly, and loses nothing.
func TestSignals(t *testing.T) {
	t.Parallel()
	for name, sig := range map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cmd, exited, h := startChild(t, dir)
			h.PutUser(t, "u")
			tok := h.UserToken(t, "u", "")
			c := testkit.DialSSE(t, h.SSE, tok)
			rc := h.Notify(t, map[string]any{"users": []string{"u"}, "message": "before the signal"})
			if d := decodeData(t, c.Next(t, testkit.Guard)); d.ID != rc.ID {
				t.Fatalf("got %s, want %s", d.ID, rc.ID)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			c.WaitEOF(t, testkit.Guard)
			select {
			case <-exited:
			case <-time.After(4 * testkit.Guard):
				t.Fatalf("the hub did not exit after %v", sig)
			}
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit code %d after %v, want 0\n%s", code, sig, testkit.Tail(h.Log.String(), 20))
			}
			// Nothing lost: the unacknowledged message comes again.
			h2 := testkit.StartHub(t, dir)
			c2 := testkit.DialSSE(t, h2.SSE, tok)
			if d := decodeData(t, c2.Next(t, testkit.Guard)); d.ID != rc.ID {
				t.Errorf("after restart got %s, want %s", d.ID, rc.ID)
			}
		})
	}
}

// TestCrashKeepsRecallsAndReplacements: recalls (204) and replacing
// notifies (202) made as fast as they go survive a kill -9, and a
// replacement is whole or absent: the user ends with one copy of the key.
func TestCrashKeepsRecallsAndReplacements(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	cmd, exited, h := startChild(t, dir)
	h.PutUsers(t, "keyed", "recalled")
	appTok := h.AccessToken(t)
	client := &http.Client{Timeout: 4 * testkit.Guard}
	call := func(method, path string, body any) (int, []byte, error) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, h.API+path, rd)
		req.Header.Set("Authorization", "Bearer "+appTok)
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res.StatusCode, b, err
	}
	var (
		mu       sync.Mutex
		keyed    []string            // answered 202
		lastSeq  uint64              // the highest seq of those
		recalled = map[string]bool{} // answered 204 to DELETE
		kept     = map[string]bool{} // answered 202, not recalled
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		early    []string
	)
	workers(&wg, stop, 4, 0, func(g, i int) bool {
		if g%2 == 0 {
			code, b, err := call("POST", "/api/message/notify", map[string]any{"users": []string{"keyed"}, "key": "level", "message": i})
			if err != nil || code != 202 {
				return false
			}
			var rc testkit.Receipt
			json.Unmarshal(b, &rc)
			mu.Lock()
			keyed = append(keyed, rc.ID)
			lastSeq = max(lastSeq, rc.Seq)
			mu.Unlock()
			return true
		}
		code, b, err := call("POST", "/api/message/notify", map[string]any{"users": []string{"recalled"}, "message": i})
		if err != nil || code != 202 {
			return false
		}
		var rc testkit.Receipt
		json.Unmarshal(b, &rc)
		mu.Lock()
		kept[rc.ID] = true
		mu.Unlock()
		if i%2 == 1 {
			return true
		}
		code, b, err = call("DELETE", "/api/message/"+rc.ID, nil)
		if err != nil {
			// In flight at the kill: it may have been recalled.
			mu.Lock()
			delete(kept, rc.ID)
			mu.Unlock()
			return false
		}
		mu.Lock()
		if code == 204 {
			recalled[rc.ID] = true
			delete(kept, rc.ID)
		} else {
			early = append(early, fmt.Sprintf("DELETE: %d %s", code, b))
		}
		mu.Unlock()
		return true
	})
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	<-exited
	if len(early) > 0 {
		t.Errorf("refusals before the kill: %v", early)
	}
	t.Logf("%d replacing notifies, %d recalls, %d kept messages answered before the kill", len(keyed), len(recalled), len(kept))
	if len(keyed) < 2 || len(recalled) == 0 {
		t.Fatal("too little was answered to check")
	}

	h2 := testkit.StartHub(t, dir)
	h2.UseAccessToken(appTok)
	var inbox []struct {
		ID  string `json:"id"`
		Seq uint64 `json:"seq"`
	}
	h2.Must(t, 200, "GET", "/api/user/keyed/messages", nil, &inbox)
	if len(inbox) != 1 {
		t.Fatalf("keyed holds %d pending copies of one key after the crash, want 1: %+v", len(inbox), inbox)
	}
	for i, id := range keyed {
		var st struct {
			Recipients []struct {
				State string `json:"state"`
			} `json:"recipients"`
		}
		h2.Must(t, 200, "GET", "/api/message/"+id, nil, &st)
		want := "replaced"
		if id == inbox[0].ID {
			want = "pending"
		}
		if st.Recipients[0].State != want {
			t.Errorf("keyed message %d of %d: state %q, want %q", i+1, len(keyed), st.Recipients[0].State, want)
		}
	}
	if inbox[0].Seq < lastSeq {
		t.Errorf("the pending copy has seq %d, older than the last answered replacement (%d)", inbox[0].Seq, lastSeq)
	}
	h2.Must(t, 200, "GET", "/api/user/recalled/messages?limit=1000", nil, &inbox)
	pending := map[string]bool{}
	for _, e := range inbox {
		pending[e.ID] = true
	}
	for id := range recalled {
		if pending[id] {
			t.Errorf("recalled message %s (204) is pending after the crash", id)
		}
	}
	for id := range kept {
		if !pending[id] {
			t.Errorf("message %s (202, not recalled) is not pending after the crash", id)
		}
	}
}
