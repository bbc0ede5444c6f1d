package testkit

import (
	"strconv"
	"strings"
)

// Kind says what an Item is.
type Kind int

const (
	KindEvent   Kind = iota // a dispatched event
	KindComment             // a line starting with ':'
	KindRetry               // a valid retry field
)

// Item is one thing an EventSource sees on a stream, in wire order.
type Item struct {
	Kind    Kind
	ID      string // the last event ID buffer at dispatch (events)
	HasID   bool   // an id field was part of this event
	Event   string // event type; "message" when no event field
	Data    string // data lines joined with \n
	Retry   int    // milliseconds (retry)
	Comment string // text after ':' (comments), leading space kept
}

// Parser interprets an event stream the way the WHATWG HTML standard's
// "event stream interpretation" says a browser does
// (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
// an optional leading U+FEFF is dropped; lines end at CRLF, LF or CR; an
// empty line dispatches; a line starting with ':' is a comment; otherwise
// the field name runs to the first ':' and the value follows with one
// leading space removed (a line without ':' is a field with an empty
// value). data appends value+LF, event sets the type, id sets the last
// event ID unless it contains NUL, retry takes ASCII digits only; other
// fields are ignored. On dispatch an empty data buffer dispatches nothing;
// a final LF is removed; the type defaults to "message". Input may arrive
// in pieces of any size.
type Parser struct {
	// LastEventID is the last event ID buffer, as EventSource keeps it.
	LastEventID string

	started bool // past a possible BOM
	line    []byte
	skipLF  bool // the last byte was a CR: an LF now belongs to it
	data    strings.Builder
	hasData bool
	event   string
	hasID   bool
	pending bool // a field line was read, its event not dispatched yet
}

// Feed parses the next piece of the stream, calling emit for each item.
func (p *Parser) Feed(b []byte, emit func(Item)) {
	for _, c := range b {
		if p.skipLF {
			p.skipLF = false
			if c == '\n' {
				continue
			}
		}
		switch c {
		case '\r':
			p.skipLF = true
			p.process(emit)
		case '\n':
			p.process(emit)
		default:
			p.line = append(p.line, c)
		}
	}
}

// Pending reports whether a field line was read whose event has not been
// dispatched: a stream that ended now would lose it.
func (p *Parser) Pending() bool { return p.pending }

func (p *Parser) process(emit func(Item)) {
	l := string(p.line)
	p.line = p.line[:0]
	if !p.started {
		p.started = true
		l = strings.TrimPrefix(l, "\uFEFF")
	}
	if l == "" { // dispatch
		p.pending = false
		if p.hasData {
			typ := p.event
			if typ == "" {
				typ = "message"
			}
			emit(Item{Kind: KindEvent, ID: p.LastEventID, HasID: p.hasID, Event: typ, Data: strings.TrimSuffix(p.data.String(), "\n")})
		}
		p.data.Reset()
		p.hasData, p.event, p.hasID = false, "", false
		return
	}
	if l[0] == ':' {
		emit(Item{Kind: KindComment, Comment: l[1:]})
		return
	}
	p.pending = true
	field, value := l, ""
	if i := strings.IndexByte(l, ':'); i >= 0 {
		field, value = l[:i], strings.TrimPrefix(l[i+1:], " ")
	}
	switch field {
	case "event":
		p.event = value
	case "data":
		p.data.WriteString(value)
		p.data.WriteByte('\n')
		p.hasData = true
	case "id":
		if !strings.ContainsRune(value, 0) {
			p.LastEventID = value
			p.hasID = true
		}
	case "retry":
		if value != "" && strings.Trim(value, "0123456789") == "" {
			n, _ := strconv.Atoi(value)
			emit(Item{Kind: KindRetry, Retry: n})
		}
	}
}

// Parsed is what an EventSource makes of a whole stream read so far.
type Parsed struct {
	Items    []Item
	Events   []Item   // the KindEvent items
	Comments []string // the comments' text
	Retry    int      // the last valid retry in ms, -1 if none
	Pending  bool     // see Parser.Pending
	// LastEventID is what EventSource would send as Last-Event-ID now.
	LastEventID string
}

// Parse interprets b, a stream from its first byte. An unterminated last
// line is not interpreted yet.
func Parse(b []byte) Parsed {
	var p Parser
	out := Parsed{Retry: -1}
	p.Feed(b, func(it Item) {
		out.Items = append(out.Items, it)
		switch it.Kind {
		case KindEvent:
			out.Events = append(out.Events, it)
		case KindComment:
			out.Comments = append(out.Comments, it.Comment)
		case KindRetry:
			out.Retry = it.Retry
		}
	})
	out.Pending = p.Pending()
	out.LastEventID = p.LastEventID
	return out
}
