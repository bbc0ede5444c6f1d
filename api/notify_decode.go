package api

import (
	"bytes"
	"encoding/json"
	"strconv"

	"rtchub/internal/httpx"
)

// DecodeFast decodes the common shape of a notify body by hand: plain
// strings (no escape), arrays of them, a whole-number ttl, each key once,
// spelled exactly. It is the hottest request body, and encoding/json's
// reflection is most of what decoding it costs. On anything else it gives
// up, leaving req as it was, and DecodeJSON decodes strictly (and says
// what is wrong); what it accepts, it decodes as json.Unmarshal would
// (FuzzNotifyDecodeFast holds it to that).
func (req *NotifyRequest) DecodeFast(body []byte) bool {
	p := fastParser{b: body}
	var out NotifyRequest
	var seen uint8
	p.space()
	if !p.byte('{') {
		return false
	}
	p.space()
	if p.byte('}') {
		return p.end(req, &out)
	}
	for {
		key, ok := p.str()
		if !ok {
			return false
		}
		p.space()
		if !p.byte(':') {
			return false
		}
		p.space()
		var bit uint8
		switch string(key) {
		case "users":
			bit = 1
			out.Users, ok = p.strs()
		case "ids":
			bit = 2
			out.Ids, ok = p.strs()
		case "groups":
			bit = 4
			out.Groups, ok = p.strs()
		case "message":
			bit = 8
			out.Message, ok = p.raw()
		case "payload":
			bit = 16
			out.Payload, ok = p.raw()
		case "event":
			bit = 32
			out.Event, ok = p.text()
		case "key":
			bit = 64
			var k string
			k, ok = p.text()
			out.Key = &k
		case "ttl":
			bit = 128
			out.TTL, ok = p.int()
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		p.space()
		if p.byte('}') {
			return p.end(req, &out)
		}
		if !p.byte(',') {
			return false
		}
		p.space()
	}
}

// fastParser reads the narrow JSON DecodeFast takes; its value methods
// report false on anything outside it.
type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *fastParser) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end accepts the object just closed if only white space follows.
func (p *fastParser) end(req, out *NotifyRequest) bool {
	p.space()
	if p.i != len(p.b) {
		return false
	}
	*req = *out
	return true
}

// str reads a string with no escape and no control character; the body
// is valid UTF-8 already.
func (p *fastParser) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// text is str copied out of the body.
func (p *fastParser) text() (string, bool) {
	s, ok := p.str()
	return string(s), ok
}

// strs reads an array of plain strings, copied out of the body.
func (p *fastParser) strs() ([]string, bool) {
	if !p.byte('[') {
		return nil, false
	}
	out := []string{}
	p.space()
	if p.byte(']') {
		return out, true
	}
	for {
		s, ok := p.text()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		p.space()
		if p.byte(']') {
			return out, true
		}
		if !p.byte(',') {
			return nil, false
		}
		p.space()
	}
}

// raw reads one JSON value other than null, copied out of the body.
func (p *fastParser) raw() (json.RawMessage, bool) {
	end := httpx.SkipValue(p.b, p.i)
	if end < 0 {
		return nil, false
	}
	v := bytes.TrimRight(p.b[p.i:end], " \t\n\r")
	if len(v) == 0 || v[0] == 'n' || !json.Valid(v) {
		return nil, false
	}
	p.i += len(v)
	return append(json.RawMessage(nil), v...), true
}

// int reads a whole number that fits an int64, written as JSON writes one.
func (p *fastParser) int() (*WholeNumber, bool) {
	start := p.i
	p.byte('-')
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || p.b[digits] == '0' && p.i > digits+1 {
		return nil, false // no digit, or a leading zero
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return nil, false
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	if err != nil {
		return nil, false
	}
	w := WholeNumber(n)
	return &w, true
}
