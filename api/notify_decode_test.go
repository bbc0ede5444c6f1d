package api_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"unicode/utf8"

	"rtchub/api"
)

var fastSeeds = append([]string{
	`{}`, ` { } `, `{"users":[]}`, `{"users":[ "a" , "b" ]}`, `{"ttl":-0}`, `{"ttl":01}`, `{"ttl":1e3}`,
	`{"ttl":9223372036854775808}`, `{"ttl":-9223372036854775808}`, `{"message":"a\"b"}`, `{"message":{"a":[1,{"b":"}"}]}}`,
	`{"message":1 }`, `{"message":true,"event":"e"}`, `{"message":nul}`, `{"message":null}`, `{"key":"\u00e9"}`,
	`{"users":["u1"],"users":["u2"]}`, `{"users":["u1"]}x`, `{"users":["u1",]}`, `{"event":"é"}`, `{"message":[}`,
	`{"message":"x" "y"}`, `{"message":12.5e-3}`, `{"message":-}`, `{"users":null}`,
}, notifySeeds...)

// FuzzNotifyDecodeFast: when the hand decoder takes a body, json.Unmarshal
// takes it too and decodes the same request; when it does not, the
// request is left as it was.
func FuzzNotifyDecodeFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFast(t, body) })
}

// checkFast checks DecodeFast on body and reports whether it took it.
func checkFast(t *testing.T, body []byte) bool {
	if !utf8.Valid(body) {
		return false // DecodeJSON refuses it before
	}
	sentinel := api.NotifyRequest{Event: "untouched"}
	got := sentinel
	if !got.DecodeFast(body) {
		if !reflect.DeepEqual(got, sentinel) {
			t.Fatalf("DecodeFast(%q) refused but changed the request: %+v", body, got)
		}
		return false
	}
	var want api.NotifyRequest
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("DecodeFast took %q, json.Unmarshal says %v", body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeFast(%q) = %+v, json.Unmarshal %+v", body, got, want)
	}
	return true
}

// TestNotifyDecodeFastRandom runs the fuzz target's check on bodies made
// of JSON's punctuation and notify's keys (seeded, so a failure repeats):
// many more near-misses than the fuzzer reaches in CI's seconds.
func TestNotifyDecodeFastRandom(t *testing.T) {
	alpha := []byte(`{}[]":,0123456789-.eE ntrufalse\`)
	parts := []string{`"users"`, `"ids"`, `"groups"`, `"message"`, `"payload"`, `"event"`, `"key"`, `"ttl"`,
		`["a"]`, `["a","b"]`, `[]`, `{"x":[1,"}"]}`, `"s"`, `null`, `-12`, `1.5`, `true`, `"\u0041"`}
	r := rand.New(rand.NewPCG(1, 2))
	n := 300000
	if testing.Short() {
		n = 30000
	}
	took := 0
	for range n {
		b := []byte{'{'}
		for l := r.IntN(12); l > 0; l-- {
			if r.IntN(3) == 0 {
				b = append(b, alpha[r.IntN(len(alpha))])
			} else {
				b = append(b, parts[r.IntN(len(parts))]...)
			}
		}
		if r.IntN(2) == 0 {
			b = append(b, '}')
		}
		if checkFast(t, b) {
			took++
		}
	}
	// Bodies it takes are where it could go wrong: enough of them, or
	// the generator no longer reaches the fast path.
	t.Logf("DecodeFast took %d of %d bodies", took, n)
	if took < n/200 {
		t.Fatalf("DecodeFast took only %d of %d bodies", took, n)
	}
}

// TestNotifyDecodeFastTakes: the shapes clients send take the fast path.
func TestNotifyDecodeFastTakes(t *testing.T) {
	for _, body := range []string{
		`{"users":["u1"],"message":{"text":"hi"}}`,
		`{"users":["u1","u2"],"groups":["g1"],"message":[1,2,3],"event":"chat.new","ttl":60}`,
		`{"ids":["u1"],"payload":"legacy"}`,
		"{\n  \"groups\": [\"g1\"],\n  \"message\": {\"a\": 1},\n  \"key\": \"battery\"\n}\n",
	} {
		var req api.NotifyRequest
		if !req.DecodeFast([]byte(body)) {
			t.Errorf("DecodeFast refused %q", body)
		}
	}
}

func BenchmarkNotifyDecode(b *testing.B) {
	body := []byte(`{"users":["u0042"],"message":{"sb":"ssebench:1764750000:4242:1764750000123456789:"}}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req api.NotifyRequest
			if !req.DecodeFast(body) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req api.NotifyRequest
			if err := json.Unmarshal(body, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
