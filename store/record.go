package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
)

// Record operations. Each state change is one record; a record is one line
// of the log.
const (
	opClientPut = "client.put"
	opClientDel = "client.del"
	opUserPut   = "user.put"
	opUserDel   = "user.del"
	opGroupPut  = "group.put"
	opGroupDel  = "group.del"
	opMsg       = "msg"
	opAck       = "ack"
	opRevoke    = "revoke"
	// opRecall withdraws the open copies of message ID that Users hold:
	// recalled by the application, or, with By set, replaced by message By.
	// The recalls of a replacement come right before By's message record
	// and take effect only with it.
	opRecall = "recall"
	// opSnapshot opens a compacted log: the records up to the next
	// non-snapshot record describe live state as of seq Upto, and carry
	// seq 0 except messages, which keep their own seq.
	opSnapshot = "snapshot"
	// opGen restores a revocation generation in a snapshot.
	opGen = "gen"
	// opMark carries nothing but a seq, jumping ahead so that seqs clients
	// may have seen as event ids are never handed out again: after the part
	// `verify --repair` moves aside, after an unclean stop, and at the end
	// of a backup's copy of the log.
	opMark = "mark"
)

// record is one log entry. Fields are shared between operations to keep
// lines short; which ones are set depends on Op.
type record struct {
	Seq      uint64          `json:"seq,omitempty"`
	Op       string          `json:"op"`
	ID       string          `json:"id,omitempty"`       // client, user, group or message id
	Name     string          `json:"name,omitempty"`     // client.put
	Hash     string          `json:"hash,omitempty"`     // client.put: secret hash
	Groups   []string        `json:"groups,omitempty"`   // user.put: the user's groups (replaced)
	Users    []string        `json:"users,omitempty"`    // group.put: members added; msg: recipients
	Acked    []string        `json:"acked,omitempty"`    // msg in a snapshot: recipients that acknowledged
	Recalled []string        `json:"recalled,omitempty"` // msg in a snapshot: copies recalled
	Replaced []string        `json:"replaced,omitempty"` // msg in a snapshot: copies replaced
	Lapsed   []string        `json:"expired,omitempty"`  // msg in a snapshot: copies that expired
	Event    string          `json:"event,omitempty"`    // msg
	Key      string          `json:"key,omitempty"`      // msg: replaces the recipients' older copies with this key
	By       string          `json:"by,omitempty"`       // recall: the message that replaced the copies
	Message  json.RawMessage `json:"message,omitempty"`  // msg: the payload, compact JSON
	Created  int64           `json:"created,omitempty"`  // msg, and the first record of a batch: unix milliseconds
	Expires  int64           `json:"expires,omitempty"`  // msg: unix milliseconds
	User     string          `json:"user,omitempty"`     // ack, revoke, gen
	Kind     string          `json:"kind,omitempty"`     // gen: "user" or "client"
	Gen      uint64          `json:"gen,omitempty"`      // client.put, gen
	Upto     uint64          `json:"upto,omitempty"`     // snapshot
	N        uint64          `json:"n,omitempty"`        // first record of a batch: records in the batch
	CRC      string          `json:"crc,omitempty"`      // filled in by the framing
}

// continues reports whether r belongs to the replacement by message by
// whose recalls came before it: another of its recalls, or the message.
func (r *record) continues(by string) bool {
	return r.Op == opRecall && r.By == by || r.Op == opMsg && r.ID == by
}

// clone copies r so that it outlives the decoder's reuse of it.
func (r *record) clone() record {
	c := *r
	c.Users = slices.Clone(r.Users)
	return c
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcSuffixLen is the length of `,"crc":"xxxxxxxx"}`: the frame of a line is
// fixed-width so a reader finds the checksum without parsing the JSON.
const crcSuffixLen = len(`,"crc":"`) + 8 + len(`"}`)

// Framing errors. A line that fails any check is not a record.
var (
	errNoNewline = errors.New("record is not terminated by a newline")
	errShort     = errors.New("record too short")
	errFrame     = errors.New("record has no checksum frame")
	errChecksum  = errors.New("checksum mismatch")
)

// encodeBody marshals r without seq or crc: the part a caller can prepare
// before the writer assigns the seq. HTML characters are not escaped, so a
// replayed message is byte for byte the one that was sent.
func encodeBody(r *record) ([]byte, error) {
	if r.Op == opMsg && r.Seq == 0 && r.Created == 0 && r.Expires == 0 {
		if b, ok := appendMsgBody(nil, r); ok {
			return b, nil
		}
	}
	seq := r.Seq
	r.Seq, r.CRC = 0, ""
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(r)
	r.Seq = seq
	if err != nil {
		return nil, fmt.Errorf("store: encode %s record: %w", r.Op, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// appendMsgBody is encodeBody for a new message record, by hand: the
// notify path's one encoding, without reflection or a second pass over the
// payload. It gives up (false) on anything encoding/json would spell
// differently: strings that need escaping, a payload that is not one line.
func appendMsgBody(dst []byte, r *record) ([]byte, bool) {
	if r.Name != "" || r.Hash != "" || len(r.Groups) > 0 || len(r.Acked) > 0 || len(r.Recalled) > 0 ||
		len(r.Replaced) > 0 || len(r.Lapsed) > 0 || r.By != "" || r.User != "" || r.Kind != "" ||
		r.Gen != 0 || r.Upto != 0 || r.N != 0 || r.CRC != "" {
		return nil, false
	}
	for _, c := range r.Message {
		if c < 0x20 {
			return nil, false
		}
	}
	if len(r.Message) > 0 && !json.Valid(r.Message) {
		return nil, false // encoding/json says what is wrong
	}
	size := 64 + len(r.ID) + len(r.Event) + len(r.Key) + len(r.Message)
	for _, u := range r.Users {
		size += len(u) + 3
	}
	dst = slices.Grow(dst, size)
	ok := true
	str := func(key, v string) {
		if v == "" {
			return
		}
		dst = append(dst, key...)
		dst, ok = appendPlainString(dst, v, ok)
	}
	dst = append(dst, `{"op":"msg"`...)
	str(`,"id":`, r.ID)
	if len(r.Users) > 0 {
		dst = append(dst, `,"users":[`...)
		for i, u := range r.Users {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst, ok = appendPlainString(dst, u, ok)
		}
		dst = append(dst, ']')
	}
	str(`,"event":`, r.Event)
	str(`,"key":`, r.Key)
	if len(r.Message) > 0 {
		dst = append(dst, `,"message":`...)
		dst = append(dst, r.Message...)
	}
	return append(dst, '}'), ok
}

// appendPlainString appends v quoted if it needs no escaping; ok turns
// false otherwise.
func appendPlainString(dst []byte, v string, ok bool) ([]byte, bool) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			ok = false
		}
	}
	dst = append(dst, '"')
	dst = append(dst, v...)
	return append(dst, '"'), ok
}

// appendLine frames body (from encodeBody) as one log line with seq and a
// CRC-32C of everything before the checksum field, and appends it to dst.
//
// The line stays plain JSON, so jq and grep work on the log:
//
//	{"seq":12,"op":"ack","id":"...","user":"u1","crc":"1c291ca3"}
func appendLine(dst []byte, seq uint64, body []byte) []byte {
	return appendBatchLine(dst, seq, 0, body)
}

// appendBatchLine is appendLine for the first record of a batch of n: the
// count lets recovery tell a batch cut short by a power cut (whose pages
// reached the disk out of order) from damage to data that was synced.
func appendBatchLine(dst []byte, seq, n uint64, body []byte) []byte {
	return appendFramed(dst, seq, n, 0, 0, body)
}

// appendFramed is appendBatchLine that also puts a batch's time (created)
// and a message's expiry (unix ms; each omitted when 0) ahead of the body,
// so the writer stamps a record without encoding it again.
func appendFramed(dst []byte, seq, n uint64, created, expires int64, body []byte) []byte {
	start := len(dst)
	dst = append(dst, '{')
	dst = appendField(dst, `"seq":`, seq)
	dst = appendField(dst, `"n":`, n)
	dst = appendField(dst, `"created":`, uint64(created))
	dst = appendField(dst, `"expires":`, uint64(expires))
	dst = append(dst, body[1:len(body)-1]...)
	sum := crc32.Checksum(dst[start:], castagnoli)
	dst = append(dst, `,"crc":"`...)
	dst = appendHex32(dst, sum)
	dst = append(dst, '"', '}', '\n')
	return dst
}

// appendField appends key (a quoted name and a colon), v and a comma,
// unless v is 0.
func appendField(dst []byte, key string, v uint64) []byte {
	if v == 0 {
		return dst
	}
	dst = append(dst, key...)
	dst = strconv.AppendUint(dst, v, 10)
	return append(dst, ',')
}

func appendHex32(dst []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, digits[(v>>uint(shift))&0xf])
	}
	return dst
}

// checkLine verifies the frame and checksum of one line (with its newline)
// and returns the JSON object without the newline.
func checkLine(line []byte) ([]byte, error) {
	if len(line) == 0 || line[len(line)-1] != '\n' {
		return nil, errNoNewline
	}
	line = line[:len(line)-1]
	if len(line) < crcSuffixLen+2 {
		return nil, errShort
	}
	cut := len(line) - crcSuffixLen
	suffix := line[cut:]
	if line[0] != '{' || !bytes.HasPrefix(suffix, []byte(`,"crc":"`)) || !bytes.HasSuffix(suffix, []byte(`"}`)) {
		return nil, errFrame
	}
	var want [8]byte
	appendHex32(want[:0], crc32.Checksum(line[:cut], castagnoli))
	if string(suffix[8:16]) != string(want[:]) {
		return nil, errChecksum
	}
	return line, nil
}

// decodeLine parses one framed line into r.
func decodeLine(line []byte, r *record) error { return decodeLineWith(line, r, nil) }

func decodeLineWith(line []byte, r *record, in interner) error {
	obj, err := checkLine(line)
	if err != nil {
		return err
	}
	if err := decodeRecord(obj, r, in); err != nil {
		return err
	}
	if r.Op == "" {
		return errors.New("record has no op")
	}
	return nil
}
