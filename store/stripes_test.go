package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestSameWriteAtOnce: the same checked write sent many times at once
// takes effect and is written once; the others see it done (a second
// delete is not found, a second create is not "created", a second ack
// or recall writes nothing).
func TestSameWriteAtOnce(t *testing.T) {
	const callers, rounds = 16, 20
	type outcome struct {
		created, ok, notFound int
	}
	cases := []struct {
		name        string
		setup       func(t *testing.T, s *Store, id string) string
		op          func(s *Store, id, arg string) (created bool, err error)
		want        outcome
		wantRecords uint64
	}{
		{
			name:  "delete user",
			setup: func(t *testing.T, s *Store, id string) string { putUser(t, s, id); return "" },
			op:    func(s *Store, id, _ string) (bool, error) { return false, s.DeleteUser(bg, id) },
			want:  outcome{ok: 1, notFound: callers - 1}, wantRecords: 1,
		},
		{
			name:  "delete group",
			setup: func(t *testing.T, s *Store, id string) string { putGroup(t, s, id); return "" },
			op:    func(s *Store, id, _ string) (bool, error) { return false, s.DeleteGroup(bg, id) },
			want:  outcome{ok: 1, notFound: callers - 1}, wantRecords: 1,
		},
		{
			name: "create user",
			op: func(s *Store, id, _ string) (bool, error) {
				_, created, err := s.PutUser(bg, id, nil)
				return created, err
			},
			want: outcome{created: 1, ok: callers}, wantRecords: callers,
		},
		{
			name: "create group",
			op: func(s *Store, id, _ string) (bool, error) {
				_, created, err := s.PutGroup(bg, id, nil)
				return created, err
			},
			want: outcome{created: 1, ok: callers}, wantRecords: callers,
		},
		{
			name: "ack",
			setup: func(t *testing.T, s *Store, id string) string {
				putUser(t, s, id)
				return notify(t, s, Notification{Users: []string{id}}).ID
			},
			op:   func(s *Store, id, msg string) (bool, error) { return false, s.Ack(bg, msg, id) },
			want: outcome{ok: callers}, wantRecords: 1,
		},
		{
			name: "recall",
			setup: func(t *testing.T, s *Store, id string) string {
				putUser(t, s, id)
				return notify(t, s, Notification{Users: []string{id}}).ID
			},
			op:   func(s *Store, _, msg string) (bool, error) { return false, s.Recall(bg, msg) },
			want: outcome{ok: callers}, wantRecords: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t, nil)
			for round := range rounds {
				id := fmt.Sprintf("x%d", round)
				var arg string
				if tc.setup != nil {
					arg = tc.setup(t, s, id)
				}
				before := s.Metrics.Appends.Load()
				var (
					mu    sync.Mutex
					got   outcome
					wg    sync.WaitGroup
					start = make(chan struct{})
				)
				for range callers {
					wg.Go(func() {
						<-start
						created, err := tc.op(s, id, arg)
						var nf *NotFoundError
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							got.ok++
						case errors.As(err, &nf):
							got.notFound++
						default:
							t.Errorf("round %d: %v", round, err)
						}
						if created {
							got.created++
						}
					})
				}
				close(start)
				wg.Wait()
				if got != tc.want {
					t.Fatalf("round %d: %d callers at once got %+v, want %+v", round, callers, got, tc.want)
				}
				if n := s.Metrics.Appends.Load() - before; n != tc.wantRecords {
					t.Fatalf("round %d: %d records written, want %d", round, n, tc.wantRecords)
				}
			}
		})
	}
}
