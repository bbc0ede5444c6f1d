package api

import (
	"encoding/json"
	"math"
	"testing"
)

// TestWholeNumber: a ttl is any spelling of a whole number, decided on its
// digits (not after rounding to a float64); past int64 it is held at the
// bound, for the range check to refuse.
func TestWholeNumber(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"3600", 3600, true},
		{"3600.0", 3600, true},
		{"3.6e3", 3600, true},
		{"36E2", 3600, true},
		{"1e+2", 100, true},
		{"1200e-2", 12, true},
		{"-0", 0, true},
		{"0.0", 0, true},
		{"0e-5", 0, true},
		{"1e400", math.MaxInt64, true},
		{"-1e400", math.MinInt64, true},
		{"99999999999999999999", math.MaxInt64, true},
		{"5e99999999999999999999", math.MaxInt64, true},
		{"1.5", 0, false},
		{"1.0000000000000001", 0, false},
		{"3600.00000000000001", 0, false},
		{"123e-2", 0, false},
		{"1E-400", 0, false},
		{"5e-99999999999999999999", 0, false},
		{`"3600"`, 0, false},
		{"true", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var n WholeNumber
			err := json.Unmarshal([]byte(tt.in), &n)
			if (err == nil) != tt.ok || tt.ok && int64(n) != tt.want {
				t.Errorf("Unmarshal(%s) = %d, %v; want %d, ok %v", tt.in, n, err, tt.want, tt.ok)
			}
		})
	}
}
