package store

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeRecord checks the fast decoder against encoding/json: whenever
// the fast path accepts an object, encoding/json must accept it too and
// produce the same record.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range []string{
		`{"seq":5,"op":"msg","id":"c31d","users":["u1","u2"],"event":"message","message":{"a":[1,2.5e3,"x\n",null,true]},"created":1795578718547,"expires":1796183518547,"crc":"9ce7fcfe"}`,
		`{"seq":7,"op":"ack","id":"c31d","user":"u1","crc":"1c291ca3"}`,
		`{"op":"snapshot","upto":99}`,
		`{"op":"gen","kind":"user","user":"bob","gen":3}`,
		`{"seq":1,"op":"user.put","id":"u1","groups":[]}`,
		`{"seq":1,"op":"msg","message":null}`,
		`{"seq":1,"op":"msg","message":"\u00e9"}`,
		`{"seq":-1,"op":"x"}`,
		`{"seq":01,"op":"x"}`,
		`{"op":"x","extra":{"k":[{}]}}`,
		` { "op" : "x" } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast record
		if !fastDecode(b, &fast) {
			return
		}
		var slow record
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast path accepted what encoding/json refuses (%v): %q", err, b)
		}
		if !reflect.DeepEqual(normalize(fast), normalize(slow)) {
			t.Fatalf("decoders disagree on %q:\nfast %+v\nslow %+v", b, fast, slow)
		}
	})
}

// normalize maps the spellings of "no list" that mean the same to a record.
func normalize(r record) record {
	r.CRC = "" // the framing checks it; the fast path does not keep it
	if len(r.Users) == 0 {
		r.Users = nil
	}
	if len(r.Groups) == 0 {
		r.Groups = nil
	}
	if len(r.Acked) == 0 {
		r.Acked = nil
	}
	return r
}

func TestDecodeRecordFallback(t *testing.T) {
	tests := []struct {
		name, in string
		want     record
		wantErr  bool
	}{
		{"plain", `{"seq":3,"op":"ack","id":"m","user":"u"}`, record{Seq: 3, Op: opAck, ID: "m", User: "u"}, false},
		{"escaped id goes to encoding/json", `{"seq":3,"op":"ack","id":"m\u0041","user":"u"}`, record{Seq: 3, Op: opAck, ID: "mA", User: "u"}, false},
		{"wrong type", `{"seq":"3","op":"ack"}`, record{}, true},
		{"trailing garbage", `{"seq":3,"op":"ack"}x`, record{}, true},
		{"unicode payload", `{"seq":3,"op":"msg","message":"héllo"}`, record{Seq: 3, Op: opMsg, Message: json.RawMessage(`"héllo"`)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r record
			err := decodeRecord([]byte(tt.in), &r, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && !reflect.DeepEqual(r, tt.want) {
				t.Fatalf("got %+v, want %+v", r, tt.want)
			}
		})
	}
}
