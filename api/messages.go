package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"rtchub/auth"
	"rtchub/internal/httpx"
	"rtchub/store"
)

// NotifyRequest is the body of POST /api/message/notify. Ids and Payload are
// the spellings of earlier hubs for Users and Message.
type NotifyRequest struct {
	Users   []string        `json:"users"`
	Ids     []string        `json:"ids"`
	Groups  []string        `json:"groups"`
	Message json.RawMessage `json:"message"`
	Payload json.RawMessage `json:"payload"`
	Event   string          `json:"event"`
	Key     *string         `json:"key"` // nil: none; "" is not a key
	TTL     *WholeNumber    `json:"ttl"`
}

// WholeNumber is a JSON number that is whole however it is written: 3600,
// 3600.0 and 3.6e3 are one number to JSON (and to the OpenAPI document's
// "integer"), and a client's JSON library picks the spelling. One past
// int64 is held at its bound, for the range check to refuse.
type WholeNumber int64

// UnmarshalJSON takes a number with no fraction; anything else is the
// type error encoding/json gives a wrong type, so the answer names the
// field.
func (n *WholeNumber) UnmarshalJSON(b []byte) error {
	if i, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*n = WholeNumber(i)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if len(b) == 0 || b[0] != '-' && (b[0] < '0' || b[0] > '9') || err != nil && !errors.Is(err, strconv.ErrRange) || !whole(b) {
		return &json.UnmarshalTypeError{Value: "number " + string(b), Type: reflect.TypeFor[int64]()}
	}
	switch {
	case f >= math.MaxInt64:
		*n = math.MaxInt64
	case f <= math.MinInt64:
		*n = math.MinInt64
	default:
		*n = WholeNumber(f)
	}
	return nil
}

// Validate checks a notify body against the limits and returns the
// notification to send, or a message for a 400.
func (req *NotifyRequest) Validate(maxMessage int, defTTL, maxTTL time.Duration) (store.Notification, string) {
	n := store.Notification{Users: append(req.Users, req.Ids...), Groups: req.Groups, Event: req.Event, TTL: defTTL}
	if len(n.Users) == 0 && len(n.Groups) == 0 {
		return n, "no recipients: give users or groups"
	}
	for _, id := range n.Users {
		if !auth.ValidID(id) {
			return n, fmt.Sprintf("invalid user id %q: "+auth.IDRule, httpx.Clip(id))
		}
	}
	for _, id := range n.Groups {
		if !auth.ValidID(id) {
			return n, fmt.Sprintf("invalid group id %q: "+auth.IDRule, httpx.Clip(id))
		}
	}
	body := req.Message
	switch {
	case body != nil && req.Payload != nil:
		return n, `give "message" or "payload", not both`
	case body == nil:
		body = req.Payload
	}
	if body == nil {
		return n, `"message" is required`
	}
	// Valid JSON without a space, tab or line end anywhere is compact
	// already (those are the only bytes Compact drops, and a tab or line
	// end cannot be inside a string): checked, not copied.
	if bytes.ContainsAny(body, " \t\r\n") {
		var buf bytes.Buffer
		if err := json.Compact(&buf, body); err != nil {
			return n, "message is not valid JSON"
		}
		body = buf.Bytes()
	} else if !json.Valid(body) {
		return n, "message is not valid JSON"
	}
	if len(body) > maxMessage {
		return n, fmt.Sprintf("message is larger than %d bytes", maxMessage)
	}
	if httpx.NestedDeeper(body, httpx.MaxDepth) {
		return n, fmt.Sprintf("message nests arrays and objects more than %d levels deep", httpx.MaxDepth)
	}
	n.Body = body
	switch {
	case n.Event == "":
		n.Event = "message"
	case !ValidEvent(n.Event):
		return n, "invalid event name: use 1-64 letters, digits, '.', '_', '-', ':'"
	case strings.HasPrefix(n.Event, "rtchub."):
		return n, `invalid event name: names starting with "rtchub." are the hub's own events`
	}
	if req.Key != nil {
		if !ValidEvent(*req.Key) {
			return n, "invalid key: use 1-64 letters, digits, '.', '_', '-', ':'"
		}
		n.Key = *req.Key
	}
	if req.TTL != nil {
		if *req.TTL < 1 || int64(*req.TTL) > int64(maxTTL/time.Second) {
			return n, fmt.Sprintf("ttl must be from 1 to %d seconds", int64(maxTTL/time.Second))
		}
		n.TTL = time.Duration(*req.TTL) * time.Second
	}
	return n, ""
}

// whole reports whether the JSON number b has no fraction, decided on its
// digits: a float64 would round 1.0000000000000001 to 1.
func whole(b []byte) bool {
	s := strings.TrimPrefix(string(b), "-")
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil {
			// An exponent past int: the digits left of the point are
			// all the fraction there is (a huge one) or all of them.
			return !strings.HasPrefix(s[i+1:], "-") || strings.Trim(mant, "0.") == ""
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	point := len(intPart) + exp // digits from here on are the fraction
	if point < 0 {
		point = 0
	}
	return point >= len(digits) || strings.Trim(digits[point:], "0") == ""
}

// ValidEvent reports whether s may be an SSE event name (or a message's
// key, which shares the alphabet): it goes on an `event:` line, so no line
// breaks, and nothing a client would trip on.
func ValidEvent(s string) bool { return validName(s, 64, "._-:") }

func (s *server) notify(w http.ResponseWriter, r *http.Request) {
	var req NotifyRequest
	if !httpx.DecodeJSON(w, r, s.MaxBody, &req) {
		return
	}
	n, msg := req.Validate(s.MaxMessage, s.MessageTTL, s.MaxMessageTTL)
	if msg != "" {
		httpx.WriteError(w, http.StatusBadRequest, msg)
		return
	}
	rc, err := s.Store.Notify(r.Context(), n)
	if err != nil {
		s.fail(w, err)
		return
	}
	// {"id":…,"seq":…,"recipients":…} by hand: the hottest answer.
	b := make([]byte, 0, 80)
	b = append(b, `{"id":`...)
	b = httpx.AppendString(b, rc.ID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, rc.Seq, 10)
	b = append(b, `,"recipients":`...)
	b = strconv.AppendInt(b, int64(rc.Recipients), 10)
	httpx.WriteBody(w, http.StatusAccepted, append(b, "}\n"...))
}

func (s *server) acknowledge(w http.ResponseWriter, r *http.Request) {
	var req struct {
		MessageID string `json:"message_id"`
		UserID    string `json:"user_id"`
	}
	if !httpx.DecodeJSON(w, r, s.MaxBody, &req) {
		return
	}
	if !httpx.CheckMessageID(w, req.MessageID) {
		return
	}
	if !checkIDs(w, "user_id", req.UserID) {
		return
	}
	if err := s.Store.Ack(r.Context(), req.MessageID, req.UserID); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// MessageJSON is a message as GET /api/message/{id} shows it.
type MessageJSON struct {
	messageFields
	Recipients []RecipientJSON `json:"recipients"`
}

// messageFields are what a message shows wherever the API shows it: GET
// /api/message/{id} and a user's inbox.
type messageFields struct {
	ID        string          `json:"id"`
	Seq       uint64          `json:"seq"`
	Event     string          `json:"event"`
	Key       string          `json:"key,omitempty"`
	Message   json.RawMessage `json:"message"`
	CreatedAt string          `json:"created_at"`
	ExpiresAt string          `json:"expires_at"`
}

func toMessageFields(m store.MessageInfo) messageFields {
	return messageFields{
		ID: m.ID, Seq: m.Seq, Event: m.Event, Key: m.Key, Message: m.Body,
		CreatedAt: m.Created.Format(httpx.TimeFormat), ExpiresAt: m.Expires.Format(httpx.TimeFormat),
	}
}

// RecipientJSON is one user's copy.
type RecipientJSON struct {
	UserID       string `json:"user_id"`
	Delivered    bool   `json:"delivered"`
	Acknowledged bool   `json:"acknowledged"`
	State        string `json:"state"`
}

func (s *server) getMessage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("message_id")
	if !httpx.CheckMessageID(w, id) {
		return
	}
	m, ok := s.Store.Message(id)
	if !ok {
		s.fail(w, &store.NotFoundError{Kind: "message", ID: id})
		return
	}
	out := MessageJSON{toMessageFields(m), make([]RecipientJSON, len(m.Recipients))}
	for i, rc := range m.Recipients {
		out.Recipients[i] = RecipientJSON{rc.User, rc.Delivered, rc.Acked, rc.State}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// recall is DELETE /api/message/{message_id}: every open copy is withdrawn.
func (s *server) recall(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("message_id")
	if !httpx.CheckMessageID(w, id) {
		return
	}
	if err := s.Store.Recall(r.Context(), id); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// validName reports whether s is 1 to max letters, digits and bytes of extra.
func validName(s string, max int, extra string) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}
