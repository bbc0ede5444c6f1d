package store

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"rtchub/internal/testkit/testio"
)

func TestBackup(t *testing.T) {
	s, opts := newStore(t, nil)
	putTeam(t, s)
	a := notify(t, s, Notification{Groups: []string{"g"}})
	ack(t, s, a.ID, "ann")
	b := notify(t, s, Notification{Users: []string{"bob"}})
	if err := s.RevokeUser(bg, "ann"); err != nil {
		t.Fatal(err)
	}
	key := []byte("secret signing key\n")
	writeFile(t, filepath.Join(opts.Dir, "signing.key"), key)

	var buf bytes.Buffer
	if err := s.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	users, msgs := []string{"ann", "bob"}, []string{a.ID, b.ID}
	want := dumpState(t, s, users, msgs)
	// Writes after the backup started are not in it.
	notify(t, s, Notification{Users: []string{"ann"}})

	restored := t.TempDir()
	var names []string
	for _, e := range testio.ReadTar(t, &buf) {
		names = append(names, e.Name)
		writeFile(t, filepath.Join(restored, e.Name), e.Data)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"rtchub.log", "signing.key"}) {
		t.Fatalf("tar holds %v", names)
	}
	if got := readFile(t, filepath.Join(restored, "signing.key")); !bytes.Equal(got, key) {
		t.Fatalf("signing.key in backup: %q", got)
	}
	r := mustOpen(t, testOptions(restored, nil))
	// The copy ends in a seq mark, so a restored hub's seqs jump ahead.
	want.Stats.Seq += SeqGap
	sameState(t, "restored backup", want, dumpState(t, r, users, msgs))

	if err := os.Remove(filepath.Join(opts.Dir, KeyName)); err != nil {
		t.Fatal(err)
	}
	if err := s.Backup(io.Discard); err == nil {
		t.Fatal("Backup without a signing key succeeded")
	}
	mustClose(t, s)
}
