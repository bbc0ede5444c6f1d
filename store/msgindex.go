package store

import "encoding/hex"

// msgIndex finds messages by id. The ids this hub makes are 24 hex digits;
// kept as 12-byte arrays they hash and compare without chasing a pointer,
// which is most of the cost of filling an index of a million at replay.
// Any other id (a hand-written log) goes to a plain map.
type msgIndex struct {
	hex   map[[12]byte]*Message
	other map[string]*Message
}

func newMsgIndex(hint int) msgIndex {
	return msgIndex{hex: make(map[[12]byte]*Message, hint), other: make(map[string]*Message)}
}

func hexKey(id string) (k [12]byte, ok bool) {
	if len(id) != 24 {
		return k, false
	}
	for i := 0; i < 24; i++ {
		// Lower case only, so one id has one key.
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return k, false
		}
	}
	_, err := hex.Decode(k[:], []byte(id))
	return k, err == nil
}

func (x *msgIndex) get(id string) *Message {
	if k, ok := hexKey(id); ok {
		return x.hex[k]
	}
	return x.other[id]
}

func (x *msgIndex) put(m *Message) {
	if k, ok := hexKey(m.ID); ok {
		x.hex[k] = m
		return
	}
	x.other[m.ID] = m
}

func (x *msgIndex) del(id string) {
	if k, ok := hexKey(id); ok {
		delete(x.hex, k)
		return
	}
	delete(x.other, id)
}

func (x *msgIndex) len() int { return len(x.hex) + len(x.other) }

func (x *msgIndex) each(fn func(*Message)) {
	for _, m := range x.hex {
		fn(m)
	}
	for _, m := range x.other {
		fn(m)
	}
}
