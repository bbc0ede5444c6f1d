package store

// Users, groups and clients, and notify's fan-out to them.

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestUsersGroupsAndFanOut(t *testing.T) {
	s, opts := newStore(t, nil)

	if g, created, err := s.PutGroup(bg, "ops", nil); err != nil || !created || g.ID != "ops" || len(g.Users) != 0 {
		t.Fatalf("PutGroup: %+v %v %v", g, created, err)
	}
	if u, created, err := s.PutUser(bg, "ann", []string{"ops", "ops"}); err != nil || !created || !slices.Equal(u.Groups, []string{"ops"}) {
		t.Fatalf("PutUser: %+v %v %v", u, created, err)
	}
	putUser(t, s, "bob", "ops")
	putUser(t, s, "cat")
	if _, created, err := s.PutUser(bg, "ann", []string{"ops"}); err != nil || created {
		t.Fatalf("PutUser again: created %v, %v", created, err)
	}
	seq := s.Stats().Seq
	if _, _, err := s.PutUser(bg, "dan", []string{"nope"}); !notFound(err, "group", "nope") {
		t.Fatalf("PutUser with unknown group: %v", err)
	}
	if _, _, err := s.PutGroup(bg, "ops", []string{"cat", "zed"}); !notFound(err, "user", "zed") {
		t.Fatalf("PutGroup with unknown user: %v", err)
	}
	if _, ok := s.User("dan"); ok || s.Stats().Seq != seq {
		t.Fatal("a refused request wrote something")
	}
	if g, created, err := s.PutGroup(bg, "ops", []string{"cat"}); err != nil || created || !slices.Equal(g.Users, []string{"ann", "bob", "cat"}) {
		t.Fatalf("PutGroup adding cat: %+v %v %v", g, created, err)
	}
	if u, _ := s.User("cat"); !slices.Equal(u.Groups, []string{"ops"}) {
		t.Fatalf("cat groups %v", u.Groups)
	}

	// A user named directly and through a group gets one copy.
	rc := notify(t, s, Notification{Users: []string{"ann", "ann"}, Groups: []string{"ops", "ops"}, Event: "deploy", Body: body(`{"v":1}`)})
	if rc.Recipients != 3 || rc.Seq != s.Stats().Seq || len(rc.ID) != 24 {
		t.Fatalf("receipt %+v (seq now %d)", rc, s.Stats().Seq)
	}
	m, ok := s.Message(rc.ID)
	if !ok || m.Seq != rc.Seq || m.Event != "deploy" || string(m.Body) != `{"v":1}` || len(m.Recipients) != 3 {
		t.Fatalf("message %+v", m)
	}
	if !m.Created.Equal(fakeBase) || !m.Expires.Equal(fakeBase.Add(time.Hour)) {
		t.Fatalf("created %v expires %v", m.Created, m.Expires)
	}
	for _, u := range []string{"ann", "bob", "cat"} {
		if ids := pendingIDs(t, s, u); !slices.Equal(ids, []string{rc.ID}) {
			t.Fatalf("%s pending %v", u, ids)
		}
		if info, _ := s.User(u); info.Pending != 1 {
			t.Fatalf("%s: %+v", u, info)
		}
	}
	// Subscribe's after is exclusive.
	if err := s.Subscribe("ann", 0, Resume{Last: rc.Seq, Given: true, Valid: true}, func(rp Replay) {
		p := rp.Pending
		if len(p) != 0 {
			t.Errorf("after=%d gave %d messages", rc.Seq, len(p))
		}
	}); err != nil {
		t.Fatal(err)
	}

	// Acknowledge, twice: the second writes nothing.
	ack(t, s, rc.ID, "ann")
	seq = s.Stats().Seq
	ack(t, s, rc.ID, "ann")
	if s.Stats().Seq != seq {
		t.Fatal("a repeated ack wrote a record")
	}
	if ids := pendingIDs(t, s, "ann"); len(ids) != 0 {
		t.Fatalf("ann pending after ack: %v", ids)
	}
	if err := s.Ack(bg, rc.ID, "zed"); !notFound(err, "user", "zed") {
		t.Fatalf("ack by an unknown user: %v", err)
	}
	putUser(t, s, "dan")
	var nc *NoCopyError
	if err := s.Ack(bg, rc.ID, "dan"); !errors.As(err, &nc) || nc.User != "dan" || nc.Message != rc.ID {
		t.Fatalf("ack by a user who is not a recipient: %v", err)
	}
	seq = s.Stats().Seq
	if err := s.Ack(bg, "nosuchmessage", "ann"); !notFound(err, "message", "nosuchmessage") {
		t.Fatalf("ack of an unknown message: %v", err)
	}
	if s.Stats().Seq != seq {
		t.Fatal("a refused ack wrote a record")
	}
	ack(t, s, rc.ID, "bob")
	ack(t, s, rc.ID, "cat")
	if st := s.Stats(); st.OpenMessages != 0 || st.Pending != 0 {
		t.Fatalf("all acknowledged: %+v", st)
	}
	if m, ok := s.Message(rc.ID); !ok || len(m.Recipients) != 3 || !m.Recipients[0].Acked || !m.Recipients[2].Acked {
		t.Fatalf("acknowledged message kept for queries: %+v %v", m, ok)
	}

	// Group deletion keeps users; a group notify then fails.
	if err := s.DeleteGroup(bg, "ops"); err != nil {
		t.Fatal(err)
	}
	if u, ok := s.User("ann"); !ok || len(u.Groups) != 0 {
		t.Fatalf("ann after group delete: %+v", u)
	}
	if _, err := s.Notify(bg, Notification{Groups: []string{"ops"}, Body: body(`1`), TTL: time.Hour}); !notFound(err, "group", "ops") {
		t.Fatalf("notify deleted group: %v", err)
	}
	if err := s.DeleteGroup(bg, "ops"); !notFound(err, "group", "ops") {
		t.Fatalf("delete group twice: %v", err)
	}

	users := []string{"ann", "bob", "cat"}
	want := dumpState(t, s, users, []string{rc.ID})
	s = reopen(t, s, opts)
	sameState(t, "restart", want, dumpState(t, s, users, []string{rc.ID}))
}

func TestNotifyRefusals(t *testing.T) {
	s := mustOpen(t, testOptions(t.TempDir(), nil))
	putGroup(t, s, "empty")
	putUser(t, s, "ann")
	seq := s.Stats().Seq
	cases := []struct {
		n     Notification
		check func(error) bool
	}{
		{Notification{Users: []string{"ann", "ghost"}}, func(err error) bool { return notFound(err, "user", "ghost") }},
		{Notification{Users: []string{"ann"}, Groups: []string{"nogroup"}}, func(err error) bool { return notFound(err, "group", "nogroup") }},
		{Notification{Groups: []string{"empty"}}, func(err error) bool { return errors.Is(err, ErrNoRecipients) }},
		{Notification{}, func(err error) bool { return errors.Is(err, ErrNoRecipients) }},
		{Notification{Users: []string{"ann"}, Body: body(`{"bad":`)}, func(err error) bool { return err != nil }},
	}
	for _, c := range cases {
		if c.n.Body == nil {
			c.n.Body = body(`{}`)
		}
		c.n.TTL = time.Hour
		rc, err := s.Notify(bg, c.n)
		if !c.check(err) {
			t.Errorf("Notify(%+v) = %+v, %v", c.n, rc, err)
		}
	}
	if st := s.Stats(); st.Seq != seq || st.OpenMessages != 0 || st.Pending != 0 {
		t.Fatalf("refused notifies changed state: %+v (seq was %d)", st, seq)
	}
	if info, _ := s.User("ann"); info.Pending != 0 {
		t.Fatalf("ann: %+v", info)
	}
}

func TestDeleteAndRevokeUser(t *testing.T) {
	s, opts := newStore(t, nil)
	putTeam(t, s)
	m1 := notify(t, s, Notification{Groups: []string{"g"}})
	m2 := notify(t, s, Notification{Users: []string{"ann"}})

	if err := s.DeleteUser(bg, "ann"); err != nil {
		t.Fatal(err)
	}
	if gen, exists := s.UserGen("ann"); gen != 1 || exists {
		t.Fatalf("UserGen(ann) after delete = %d, %v; want 1, false", gen, exists)
	}
	if _, ok := s.User("ann"); ok {
		t.Fatal("ann still exists")
	}
	if g, _ := s.Group("g"); !slices.Equal(g.Users, []string{"bob"}) {
		t.Fatalf("group members %v", g.Users)
	}
	if mi, _ := s.Message(m1.ID); len(mi.Recipients) != 1 || mi.Recipients[0].User != "bob" {
		t.Fatalf("m1 recipients after deleting ann: %+v", mi.Recipients)
	}
	// m2 had ann only: nobody waits for it any more.
	if st := s.Stats(); st.Pending != 1 || st.OpenMessages != 1 || st.Users != 1 {
		t.Fatalf("stats after delete: %+v", st)
	}
	if err := s.Ack(bg, m2.ID, "ann"); !notFound(err, "user", "ann") {
		t.Fatalf("ack by a deleted user: %v", err)
	}
	if err := s.DeleteUser(bg, "ann"); !notFound(err, "user", "ann") {
		t.Fatalf("delete twice: %v", err)
	}
	if err := s.RevokeUser(bg, "ann"); !notFound(err, "user", "ann") {
		t.Fatalf("revoke a deleted user: %v", err)
	}

	// Re-created, ann keeps the bumped generation and none of the old copies.
	putUser(t, s, "ann")
	if gen, exists := s.UserGen("ann"); gen != 1 || !exists {
		t.Fatalf("UserGen(ann) after re-create = %d, %v; want 1, true", gen, exists)
	}
	if err := s.Subscribe("ann", 0, Resume{}, func(Replay) { t.Error("subscribed with an old generation") }); !errors.Is(err, ErrGone) {
		t.Fatalf("Subscribe with gen 0: %v", err)
	}
	if ids := pendingIDs(t, s, "ann"); len(ids) != 0 {
		t.Fatalf("re-created ann has old copies: %v", ids)
	}
	if err := s.Ack(bg, m1.ID, "ann"); !errors.As(err, new(*NoCopyError)) {
		t.Fatalf("re-created ann acknowledged an old copy: %v", err)
	}

	// Revoke bumps the generation and keeps the user and its copies.
	if err := s.RevokeUser(bg, "bob"); err != nil {
		t.Fatal(err)
	}
	if gen, exists := s.UserGen("bob"); gen != 1 || !exists {
		t.Fatalf("UserGen(bob) after revoke = %d, %v", gen, exists)
	}
	if err := s.Subscribe("bob", 0, Resume{}, func(Replay) {}); !errors.Is(err, ErrGone) {
		t.Fatalf("Subscribe with a revoked generation: %v", err)
	}
	if ids := pendingIDs(t, s, "bob"); !slices.Equal(ids, []string{m1.ID}) {
		t.Fatalf("bob pending after revoke: %v", ids)
	}
	if err := s.RevokeUser(bg, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(bg, "bob"); err != nil {
		t.Fatal(err)
	}
	if gen, _ := s.UserGen("bob"); gen != 3 {
		t.Fatalf("UserGen(bob) after two revokes and a delete = %d, want 3", gen)
	}
	if err := s.Subscribe("bob", 3, Resume{}, func(Replay) {}); !errors.Is(err, ErrGone) {
		t.Fatalf("Subscribe for a deleted user: %v", err)
	}
	if gen, exists := s.UserGen("never"); gen != 0 || exists {
		t.Fatalf("UserGen(never) = %d, %v", gen, exists)
	}

	users := []string{"ann", "bob", "never"}
	msgs := []string{m1.ID, m2.ID}
	want := dumpState(t, s, users, msgs)
	s = reopen(t, s, opts)
	sameState(t, "restart", want, dumpState(t, s, users, msgs))
	s = compactAndReopen(t, s, opts)
	// m1 and m2 have no copies left: done messages, kept as they were
	// (see TestKeepAckedAcrossCompaction).
	sameState(t, "compact and restart", want, dumpState(t, s, users, msgs))
}

func TestClients(t *testing.T) {
	s, opts := newStore(t, nil)
	if created, err := s.PutClient(bg, "c1", "backend", "h1"); err != nil || !created {
		t.Fatalf("PutClient: %v %v", created, err)
	}
	if created, err := s.PutClient(bg, "c1", "backend2", "h2"); err != nil || created {
		t.Fatalf("PutClient again: %v %v", created, err)
	}
	if c, gen, ok := s.Client("c1"); !ok || c != (Client{ID: "c1", Name: "backend2", Hash: "h2"}) || gen != 0 {
		t.Fatalf("Client: %+v %d %v", c, gen, ok)
	}
	if err := s.RemoveClient(bg, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveClient(bg, "c1"); !notFound(err, "client", "c1") {
		t.Fatalf("remove twice: %v", err)
	}
	if _, gen, ok := s.Client("c1"); ok || gen != 1 {
		t.Fatalf("after remove: gen %d ok %v", gen, ok)
	}
	if _, err := s.PutClient(bg, "c2", "other", "h"); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, opts)
	s = compactAndReopen(t, s, opts)
	if _, gen, ok := s.Client("c1"); ok || gen != 1 {
		t.Fatalf("c1 after compact and restart: gen %d ok %v", gen, ok)
	}
	if cs := s.Clients(); len(cs) != 1 || cs[0].ID != "c2" {
		t.Fatalf("clients %+v", cs)
	}
}

// A stream replaying reads a message's recipients' ids without the store's
// lock while another recipient is deleted (go test -race).
func TestDeleteUserWhileAReplayReadsRecipients(t *testing.T) {
	s, _ := newStore(t, nil)
	defer mustClose(t, s)
	putUser(t, s, "b")
	putUser(t, s, "a")
	notify(t, s, Notification{Users: []string{"b", "a"}})
	gen, _ := s.UserGen("a")
	var rp Replay
	if err := s.Subscribe("a", gen, Resume{}, func(p Replay) { rp = p }); err != nil {
		t.Fatal(err)
	}
	m := rp.Pending[0]
	done := make(chan struct{})
	go func() { defer close(done); s.DeleteUser(bg, "b") }()
	for range 1000 {
		if m.DeliveredFlag("a") == nil {
			t.Fatal("a's copy has no delivered flag")
		}
	}
	<-done
}
