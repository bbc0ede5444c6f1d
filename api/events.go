package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"rtchub/auth"
	"rtchub/hub"
	"rtchub/internal/httpx"
	"rtchub/store"
)

// Events is the applications' event stream, GET /api/events: what users do
// with the messages, as it happens. Durable events (sent, acknowledged,
// recalled, user.deleted) carry their record's seq as id and can be read
// back from the log; delivered, online, offline and expired are live only.
//
// It is an observer of the store and a listener of the hub; each event is
// encoded once and queued on every application stream whose filter takes
// it. The streams are the hub's, held like a user's.
type Events struct {
	st  *store.Store
	hub *hub.Hub
	now func() time.Time
	log *slog.Logger
}

// NewEvents returns the event stream of st and h. Register it with the
// store (SetObserver) and the hub (SetListener).
func NewEvents(st *store.Store, h *hub.Hub, log *slog.Logger) *Events {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Events{st: st, hub: h, now: time.Now, log: log}
}

// The event names, and the bit of each in a filter.
var eventNames = [...]string{"sent", "acknowledged", "recalled", "user.deleted", "delivered", "online", "offline", "expired"}

const (
	evSent = 1 << iota
	evAcknowledged
	evRecalled
	evUserDeleted
	evDelivered
	evOnline
	evOffline
	evExpired
	evAll = 1<<len(eventNames) - 1
)

// filter is what one application stream asked for.
type filter struct {
	events uint     // bits of the event names
	users  []string // nil: every user
}

// takes reports whether f wants event bit ev about any of users.
func (f *filter) takes(ev uint, users ...string) bool {
	if f.events&ev == 0 {
		return false
	}
	if f.users == nil {
		return true
	}
	for _, u := range users {
		if slices.Contains(f.users, u) {
			return true
		}
	}
	return false
}

// parseFilter reads ?events=a,b (repeatable) and ?user=ID (repeatable).
func parseFilter(r *http.Request) (*filter, string) {
	q := r.URL.Query()
	f := &filter{events: evAll}
	if q.Has("events") {
		f.events = 0
		for _, v := range q["events"] {
			for name := range strings.SplitSeq(v, ",") {
				i := slices.Index(eventNames[:], strings.TrimSpace(name))
				if i < 0 {
					return nil, fmt.Sprintf("unknown event %q in events: use %s", httpx.Clip(name), strings.Join(eventNames[:], ", "))
				}
				f.events |= 1 << i
			}
		}
	}
	if q.Has("user") {
		f.users = []string{}
		for _, u := range q["user"] {
			if !auth.ValidID(u) {
				return nil, fmt.Sprintf("invalid user id %q: "+auth.IDRule, httpx.Clip(u))
			}
			f.users = append(f.users, u)
		}
	}
	return f, ""
}

// send queues one event on the application streams that take it. The
// frame is encoded only if a stream is open.
func (e *Events) send(ev uint, users []string, encode func([]byte) []byte) {
	if !e.hub.Apps() {
		return
	}
	f := &hub.Frame{B: encode(nil)}
	e.hub.SendApps(f, func(x any) bool { return x.(*filter).takes(ev, users...) })
}

// ---- store.Observer ----

// MessageCommitted sends "sent".
func (e *Events) MessageCommitted(m *store.Message) {
	if !e.hub.Apps() {
		return
	}
	d := store.SentOf(m)
	e.send(evSent, d.Users, func(b []byte) []byte { return appendDurable(b, d) })
}

// CopiesWithdrawn sends "acknowledged" or "recalled".
func (e *Events) CopiesWithdrawn(w store.Withdrawal) {
	d := store.WithdrawnOf(w)
	e.send(durableBit(d.Kind), d.Users, func(b []byte) []byte { return appendDurable(b, d) })
}

// CopiesExpired sends "expired".
func (e *Events) CopiesExpired(m *store.Message, users []string, at int64) {
	e.send(evExpired, users, func(b []byte) []byte {
		b = appendQuoted(b, "event: expired\ndata: {\"message_id\":", m.ID)
		b = appendUsers(b, users)
		return appendAt(b, time.UnixMilli(at))
	})
}

// Committed does nothing: application streams are few, written at once.
func (e *Events) Committed() {}

// UserClosed sends "user.deleted" when the user was deleted.
func (e *Events) UserClosed(user string, deleted uint64) {
	if deleted == 0 {
		return
	}
	d := store.Durable{Kind: store.UserDeleted, Seq: deleted, ID: user}
	e.send(evUserDeleted, []string{user}, func(b []byte) []byte { return appendDurable(b, d) })
}

// ---- hub.Listener ----

// Delivered sends "delivered".
func (e *Events) Delivered(msg, user string) {
	e.send(evDelivered, []string{user}, func(b []byte) []byte {
		b = appendQuoted(b, "event: delivered\ndata: {\"message_id\":", msg)
		b = appendQuoted(b, ",\"user_id\":", user)
		return appendAt(b, e.now())
	})
}

// Presence sends "online" or "offline".
func (e *Events) Presence(user string, streams int) {
	ev, name := uint(evOnline), "online"
	if streams == 0 {
		ev, name = evOffline, "offline"
	}
	e.send(ev, []string{user}, func(b []byte) []byte {
		b = append(b, "event: "...)
		b = append(b, name...)
		b = appendQuoted(b, "\ndata: {\"user_id\":", user)
		b = append(b, ",\"streams\":"...)
		b = strconv.AppendInt(b, int64(streams), 10)
		return appendAt(b, e.now())
	})
}

// ---- frames ----

func durableBit(k store.DurableKind) uint {
	switch k {
	case store.Sent:
		return evSent
	case store.Acknowledged:
		return evAcknowledged
	case store.Withdrawn:
		return evRecalled
	}
	return evUserDeleted
}

// appendDurable appends a durable event with its seq as id.
func appendDurable(b []byte, d store.Durable) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, d.Seq, 10)
	switch d.Kind {
	case store.Sent:
		b = appendQuoted(b, "\nevent: sent\ndata: {\"message_id\":", d.ID)
		b = appendSeq(b, d.Seq)
		b = append(b, ",\"recipients\":"...)
		b = strconv.AppendInt(b, int64(len(d.Users)), 10)
		if d.Key != "" {
			b = appendQuoted(b, ",\"key\":", d.Key)
		}
	case store.Acknowledged:
		b = appendQuoted(b, "\nevent: acknowledged\ndata: {\"message_id\":", d.ID)
		b = appendQuoted(b, ",\"user_id\":", d.Users[0])
		b = appendSeq(b, d.Seq)
		b = append(b, ",\"at\":\""...)
		b = httpx.AppendTime(b, d.At)
		b = append(b, '"')
	case store.Withdrawn:
		b = appendQuoted(b, "\nevent: recalled\ndata: {\"message_id\":", d.ID)
		b = appendUsers(b, d.Users)
		b = appendSeq(b, d.Seq)
		b = appendQuoted(b, ",\"reason\":", d.Reason.String())
		if d.By != "" {
			b = appendQuoted(b, ",\"by\":", d.By)
		}
	case store.UserDeleted:
		b = appendQuoted(b, "\nevent: user.deleted\ndata: {\"user_id\":", d.ID)
		b = appendSeq(b, d.Seq)
	}
	return append(b, "}\n\n"...)
}

// appendQuoted appends prefix, the JSON up to a string value (its key),
// and then s as a JSON string.
func appendQuoted(b []byte, prefix, s string) []byte {
	return httpx.AppendString(append(b, prefix...), s)
}

func appendSeq(b []byte, seq uint64) []byte {
	b = append(b, ",\"seq\":"...)
	return strconv.AppendUint(b, seq, 10)
}

func appendUsers(b []byte, users []string) []byte {
	b = append(b, ",\"user_ids\":["...)
	for i, u := range users {
		if i > 0 {
			b = append(b, ',')
		}
		b = httpx.AppendString(b, u)
	}
	return append(b, ']')
}

// appendAt ends a live event's data with its time.
func appendAt(b []byte, t time.Time) []byte {
	b = append(b, ",\"at\":\""...)
	b = t.UTC().AppendFormat(b, httpx.TimeFormat)
	return append(b, "\"}\n\n"...)
}

// ---- GET /api/events ----

// resetEvent opens a stream that asked to resume from where the log no
// longer reaches.
var resetEvent = []byte("event: reset\ndata: {}\n\n")

// Serve serves GET /api/events to the application client, whose
// credentials (of its token generation gen) the caller has checked; the
// stream ends at ends (its access token's expiry; zero for Basic
// credentials, which do not expire) or when the client is removed.
func (e *Events) Serve(w http.ResponseWriter, r *http.Request, client string, gen uint64, ends time.Time) {
	f, msg := parseFilter(r)
	if msg != "" {
		httpx.WriteError(w, http.StatusBadRequest, msg)
		return
	}
	if r.Method == http.MethodHead {
		httpx.StreamHead(w)
		return
	}
	last, given := r.Header.Get("Last-Event-ID"), r.Header.Get("Last-Event-ID") != ""
	if !given {
		last, given = r.URL.Query().Get("last_event_id"), r.URL.Query().Has("last_event_id")
	}
	var st *hub.Stream
	var attachErr error
	var seq uint64
	lr, err := e.st.SubscribeLog(func(now uint64) {
		seq = now
		st, attachErr = e.hub.AttachApp(client, f)
		if st != nil {
			st.EndAt(ends)
		}
	})
	if err != nil {
		if st != nil {
			st.Close()
		}
		httpx.FailStore(w, e.log, err)
		return
	}
	defer lr.Close()
	if _, g, ok := e.st.Client(client); !ok || g != gen {
		// Removed (and perhaps added again) since its credentials were
		// checked: the removal's CloseApp may have run before this stream
		// was attached.
		if st != nil {
			st.Close()
		}
		unauthorized(w, "access token revoked: its client was removed")
		return
	}
	if attachErr != nil {
		w.Header().Set("Retry-After", "5")
		httpx.WriteError(w, http.StatusServiceUnavailable, attachErr.Error())
		return
	}
	conn, head, err := httpx.Hijack(w, e.now())
	if err != nil {
		st.Close()
		httpx.WriteError(w, http.StatusInternalServerError, "cannot stream on this connection")
		return
	}
	err = st.Start(conn, func(emit func([]byte, []hub.Mark) error) error {
		buf := head
		if !given {
			return emit(buf, nil)
		}
		after, perr := strconv.ParseUint(strings.TrimSpace(last), 10, 64)
		covered := false
		var werr, rerr error
		if perr == nil {
			covered, rerr = lr.Durables(after, func(d store.Durable) bool {
				if !f.takes(durableBit(d.Kind), d.Users...) {
					return true
				}
				buf = appendDurable(buf, d)
				if len(buf) >= httpx.ReplayChunk {
					werr = emit(buf, nil)
					buf = buf[:0]
				}
				return werr == nil
			})
			if werr != nil {
				return werr
			}
			if rerr != nil {
				return rerr
			}
		}
		if !covered {
			buf = append(buf, resetEvent...)
			buf = append(buf, "id: "...)
			buf = strconv.AppendUint(buf, seq, 10)
			buf = append(buf, "\n\n"...)
		}
		return emit(buf, nil)
	})
	if err != nil {
		e.log.Debug("api: event stream ended during replay", "err", err)
	}
}
