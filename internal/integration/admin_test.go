package integration

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rtchub/internal/testkit"
	"rtchub/internal/testkit/testio"
	"rtchub/store"
)

// TestCompactAndBackup: `rtchub compact` and `rtchub backup` on a running
// hub change nothing a client sees, and a hub started from the backup has
// the same state.
func TestCompactAndBackup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := testkit.StartHub(t, dir)
	h.PutGroup(t, "g")
	h.PutUser(t, "a", "g")
	h.PutUser(t, "b", "g")
	h.PutUser(t, "c")
	revoked := h.UserToken(t, "b", "")
	h.Must(t, 204, "POST", "/api/user/b/revoke", nil, nil)
	aTok, bTok := h.UserToken(t, "a", ""), h.UserToken(t, "b", "")
	var pend []testkit.Receipt
	for i := 0; i < 20; i++ {
		rc := h.Notify(t, map[string]any{"groups": []string{"g"}, "message": i})
		if i%2 == 0 {
			h.Ack(t, rc.ID, "a")
			h.Ack(t, rc.ID, "b")
		} else {
			pend = append(pend, rc)
		}
	}
	h.PutUser(t, "c", "g") // replaced
	cTok := h.UserToken(t, "c", "")
	h.Must(t, 204, "DELETE", "/api/user/c", nil, nil)
	a := testkit.DialSSE(t, h.SSE, aTok)
	for _, rc := range pend {
		if d := decodeData(t, a.Next(t, testkit.Guard)); d.ID != rc.ID {
			t.Fatalf("before compaction: got %s, want %s", d.ID, rc.ID)
		}
	}
	before := snapshot(t, h)
	bytesBefore := h.Metric(t, "rtchub_log_bytes")

	if out, code := runBinary(t, "compact", "--data-dir", dir); code != 0 {
		t.Fatalf("compact on a running hub: exit %d: %s", code, out)
	}
	if after := snapshot(t, h); after != before {
		t.Errorf("compaction changed state:\nbefore %s\nafter  %s", before, after)
	}
	if after := h.Metric(t, "rtchub_log_bytes"); after >= bytesBefore {
		t.Errorf("log %v bytes after compaction, %v before: want smaller", after, bytesBefore)
	}
	// Streams and tokens carry on.
	live := h.Notify(t, map[string]any{"users": []string{"a"}, "message": "after compaction"})
	pend = append(pend, live)
	if d := decodeData(t, a.Next(t, testkit.Guard)); d.ID != live.ID {
		t.Errorf("live after compaction: %s, want %s", d.ID, live.ID)
	}
	if live.Seq <= pend[len(pend)-2].Seq {
		t.Errorf("seq after compaction %d, not after %d", live.Seq, pend[len(pend)-2].Seq)
	}

	backup := filepath.Join(t.TempDir(), "backup.tar")
	if out, code := runBinary(t, "backup", "--data-dir", dir, backup); code != 0 {
		t.Fatalf("backup of a running hub: exit %d: %s", code, out)
	}
	stateAtBackup := snapshot(t, h)
	seqAtBackup := h.Metric(t, "rtchub_log_seq")
	appTok := h.AccessToken(t)
	h.Stop(t)

	restored := t.TempDir()
	untar(t, backup, restored)
	h2 := testkit.StartHub(t, restored)
	h2.UseAccessToken(appTok)
	// The copy ends in a seq mark: the restored hub's seqs jump past any
	// the original could have handed out since.
	wantState := strings.Replace(stateAtBackup, fmt.Sprintf("seq=%v", seqAtBackup), fmt.Sprintf("seq=%v", seqAtBackup+float64(store.SeqGap)), 1)
	if got := snapshot(t, h2); got != wantState {
		t.Errorf("hub from the backup:\n got %s\nwant %s", got, wantState)
	}
	c := testkit.DialSSE(t, h2.SSE, revoked)
	testkit.WantError(t, "revoked token, restored", c.Resp(), 401, "")
	h2.PutUser(t, "c")
	c = testkit.DialSSE(t, h2.SSE, cTok)
	testkit.WantError(t, "deleted user's token, compacted and restored, user recreated", c.Resp(), 401, "")
	for user, tok := range map[string]string{"a": aTok, "b": bTok} {
		c := testkit.DialSSE(t, h2.SSE, tok)
		want := pend
		if user == "b" {
			want = pend[:len(pend)-1]
		}
		for _, rc := range want {
			if d := decodeData(t, c.Next(t, testkit.Guard)); d.ID != rc.ID || d.Seq != rc.Seq {
				t.Fatalf("%s, restored: got %s seq %d, want %s seq %d", user, d.ID, d.Seq, rc.ID, rc.Seq)
			}
		}
	}
}

// untar writes the regular files of the tar archive file into dir.
func untar(t testing.TB, file, dir string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for _, e := range testio.ReadTar(t, f) {
		if e.Typeflag != tar.TypeReg {
			continue
		}
		name := filepath.Join(dir, filepath.Clean("/"+e.Name))
		os.MkdirAll(filepath.Dir(name), 0o700)
		if err := os.WriteFile(name, e.Data, os.FileMode(e.Mode).Perm()); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("backup holds no files")
	}
}
