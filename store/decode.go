package store

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Replay decodes every record at start, so decoding is the replay's main
// cost. fastDecode parses the lines this package writes (and any JSON of
// the same shape) without reflection; whatever it does not handle plainly
// — escapes or non-ASCII in a string field, a value of an unexpected type —
// it leaves to encoding/json, which then has the last word.
func decodeRecord(obj []byte, r *record, in interner) error {
	*r = record{}
	if fastDecodeWith(obj, r, in) {
		return nil
	}
	*r = record{}
	if err := json.Unmarshal(obj, r); err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	return nil
}

// interner returns a string equal to b, ideally one already held, so that
// user ids in millions of replayed records do not each allocate.
type interner func(b []byte) string

type parser struct {
	b  []byte
	i  int
	in interner
}

func fastDecode(b []byte, r *record) bool { return fastDecodeWith(b, r, nil) }

func fastDecodeWith(b []byte, r *record, in interner) bool {
	p := parser{b: b, in: in}
	p.ws()
	if !p.lit('{') {
		return false
	}
	p.ws()
	if p.lit('}') {
		return p.end()
	}
	for {
		p.ws()
		key, ok := p.rawStr()
		if !ok {
			return false
		}
		p.ws()
		if !p.lit(':') {
			return false
		}
		p.ws()
		switch string(key) {
		case "seq":
			r.Seq, ok = p.uint()
		case "op":
			r.Op, ok = p.op()
		case "id":
			r.ID, ok = p.str()
		case "name":
			r.Name, ok = p.str()
		case "hash":
			r.Hash, ok = p.str()
		case "event":
			r.Event, ok = p.event()
		case "key":
			r.Key, ok = p.str()
		case "by":
			r.By, ok = p.str()
		case "user":
			r.User, ok = p.istr()
		case "kind":
			r.Kind, ok = p.str()
		case "crc":
			// Checked by the framing already; not kept.
			_, ok = p.rawStr()
		case "groups":
			r.Groups, ok = p.strs()
		case "users":
			r.Users, ok = p.strs()
		case "acked":
			r.Acked, ok = p.strs()
		case "recalled":
			r.Recalled, ok = p.strs()
		case "replaced":
			r.Replaced, ok = p.strs()
		case "expired":
			r.Lapsed, ok = p.strs()
		case "message":
			start := p.i
			if ok = p.skipValue(0); ok {
				r.Message = append(json.RawMessage(nil), b[start:p.i]...)
			}
		case "created":
			r.Created, ok = p.int()
		case "expires":
			r.Expires, ok = p.int()
		case "gen":
			r.Gen, ok = p.uint()
		case "upto":
			r.Upto, ok = p.uint()
		case "n":
			r.N, ok = p.uint()
		default:
			// encoding/json matches keys case-insensitively and ignores
			// unknown ones; let it decide.
			return false
		}
		if !ok {
			return false
		}
		p.ws()
		if p.lit(',') {
			continue
		}
		if p.lit('}') {
			return p.end()
		}
		return false
	}
}

// op reads a record's op, as the constant of that name where there is one.
func (p *parser) op() (string, bool) {
	s, ok := p.rawStr()
	return internOp(s), ok
}

// event reads an event name; the default one, "message", is not allocated
// again for every record.
func (p *parser) event() (string, bool) {
	s, ok := p.rawStr()
	if string(s) == "message" {
		return "message", ok
	}
	return string(s), ok
}

func internOp(s []byte) string {
	switch string(s) {
	case opMsg:
		return opMsg
	case opAck:
		return opAck
	case opUserPut:
		return opUserPut
	case opUserDel:
		return opUserDel
	case opGroupPut:
		return opGroupPut
	case opGroupDel:
		return opGroupDel
	case opClientPut:
		return opClientPut
	case opClientDel:
		return opClientDel
	case opRevoke:
		return opRevoke
	case opSnapshot:
		return opSnapshot
	case opGen:
		return opGen
	case opRecall:
		return opRecall
	}
	return string(s)
}

func (p *parser) end() bool {
	p.ws()
	return p.i == len(p.b)
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) lit(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// rawStr reads a string of plain printable ASCII: no escapes, nothing
// that encoding/json would rewrite. Anything else is left to it.
func (p *parser) rawStr() ([]byte, bool) {
	if !p.lit('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

func (p *parser) str() (string, bool) {
	s, ok := p.rawStr()
	return string(s), ok
}

// istr is str through the interner.
func (p *parser) istr() (string, bool) {
	b, ok := p.rawStr()
	if !ok || p.in == nil {
		return string(b), ok
	}
	return p.in(b), true
}

func (p *parser) strs() ([]string, bool) {
	if p.i+4 <= len(p.b) && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return nil, true
	}
	if !p.lit('[') {
		return nil, false
	}
	var out []string
	p.ws()
	if p.lit(']') {
		return []string{}, true
	}
	for {
		p.ws()
		s, ok := p.istr()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		p.ws()
		if p.lit(',') {
			continue
		}
		if p.lit(']') {
			return out, true
		}
		return nil, false
	}
}

// digits reads a run of ASCII digits with an optional minus sign, as a
// JSON integer without fraction or exponent. What it fails to read is nil,
// which strconv refuses as well.
func (p *parser) digits(neg bool) ([]byte, bool) {
	start := p.i
	if neg {
		p.lit('-')
	}
	if !p.intPart() {
		return nil, false
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return nil, false
	}
	return p.b[start:p.i], true
}

func (p *parser) uint() (uint64, bool) {
	d, ok := p.digits(false)
	v, err := strconv.ParseUint(string(d), 10, 64)
	return v, ok && err == nil
}

func (p *parser) int() (int64, bool) {
	d, ok := p.digits(true)
	v, err := strconv.ParseInt(string(d), 10, 64)
	return v, ok && err == nil
}

// skipValue steps over one JSON value, checking its grammar.
func (p *parser) skipValue(depth int) bool {
	if depth > 1000 || p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.skipString()
	case c == '{':
		return p.skipContainer('}', depth, true)
	case c == '[':
		return p.skipContainer(']', depth, false)
	case c == 't':
		return p.word("true")
	case c == 'f':
		return p.word("false")
	case c == 'n':
		return p.word("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.skipNumber()
	}
	return false
}

// skipContainer steps over an object (keyed) or an array whose opening
// byte is at p.i, up to its closing byte end.
func (p *parser) skipContainer(end byte, depth int, keyed bool) bool {
	p.i++
	p.ws()
	if p.lit(end) {
		return true
	}
	for {
		p.ws()
		if keyed {
			if !p.skipString() {
				return false
			}
			p.ws()
			if !p.lit(':') {
				return false
			}
			p.ws()
		}
		if !p.skipValue(depth + 1) {
			return false
		}
		p.ws()
		if p.lit(',') {
			continue
		}
		return p.lit(end)
	}
}

func (p *parser) word(w string) bool {
	if p.i+len(w) <= len(p.b) && string(p.b[p.i:p.i+len(w)]) == w {
		p.i += len(w)
		return true
	}
	return false
}

func (p *parser) skipString() bool {
	if !p.lit('"') {
		return false
	}
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return false
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				if p.i+5 > len(p.b) {
					return false
				}
				for _, h := range p.b[p.i+1 : p.i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				p.i += 5
			default:
				return false
			}
		case c >= 0x80:
			// Leave non-ASCII text to encoding/json, which checks UTF-8
			// the same way everywhere.
			return false
		default:
			p.i++
		}
	}
	return false
}

func (p *parser) skipNumber() bool {
	p.lit('-')
	if !p.intPart() {
		return false
	}
	if p.lit('.') && p.digitRun() == 0 {
		return false
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if !p.lit('+') {
			p.lit('-')
		}
		if p.digitRun() == 0 {
			return false
		}
	}
	return true
}

// intPart reads the integer part of a JSON number: digits, no leading zero.
func (p *parser) intPart() bool {
	start := p.i
	n := p.digitRun()
	return n == 1 || n > 1 && p.b[start] != '0'
}

// digitRun steps over ASCII digits and says how many there were.
func (p *parser) digitRun() int {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}
