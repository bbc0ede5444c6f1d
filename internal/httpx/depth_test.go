package httpx

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNestedDeeper(t *testing.T) {
	tests := []struct {
		json  string
		depth int // the value's nesting
	}{
		{`1`, 0},
		{`"[[[{"`, 0},
		{`"\"[["`, 0},
		{`[]`, 1},
		{`{"a":[1,{"b":[]}]}`, 4},
		{`[[],[],[[]]]`, 3},
		{`{"a\\":"[","b":{"c":"\"{"}}`, 2},
		{strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), MaxDepth},
		{strings.Repeat(`{"k":`, MaxDepth+1) + "0" + strings.Repeat("}", MaxDepth+1), MaxDepth + 1},
	}
	for _, tt := range tests {
		name := tt.json
		if len(name) > 30 {
			name = name[:30]
		}
		t.Run(name, func(t *testing.T) {
			if !json.Valid([]byte(tt.json)) {
				t.Fatalf("test value %q is not valid JSON", tt.json)
			}
			if got := NestedDeeper([]byte(tt.json), tt.depth); got {
				t.Errorf("NestedDeeper(%q, %d) = true, want false", tt.json, tt.depth)
			}
			if got := NestedDeeper([]byte(tt.json), tt.depth-1); !got && tt.depth > 0 {
				t.Errorf("NestedDeeper(%q, %d) = false, want true", tt.json, tt.depth-1)
			}
		})
	}
}

// FuzzNestedDeeper holds the scan to the depth of the value as decoded.
func FuzzNestedDeeper(f *testing.F) {
	for _, s := range []string{`1`, `[]`, `{"a":[1,{"b":"]"}]}`, `"\\\"["`, `[[[[[]]]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		d := depthOf(v)
		if NestedDeeper(b, d) || d > 0 && !NestedDeeper(b, d-1) {
			t.Fatalf("NestedDeeper(%q) disagrees with the decoded depth %d", b, d)
		}
	})
}

func depthOf(v any) int {
	d := 0
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			d = max(d, depthOf(e))
		}
		return d + 1
	case map[string]any:
		for _, e := range v {
			d = max(d, depthOf(e))
		}
		return d + 1
	}
	return 0
}
