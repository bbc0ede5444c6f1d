package auth

import (
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"a", true},
		{"user-1", true},
		{"First.Last_2@example.org", true},
		{"0", true},
		{strings.Repeat("x", 128), true},
		{"", false},
		{strings.Repeat("x", 129), false},
		{"a b", false},
		{"a/b", false},
		{"a:b", false},
		{"a\nb", false},
		{"a\x00", false},
		{"é", false},
		{"a+b", false},
		{"../etc", false},
		{"..", false}, // a path cannot carry it as a segment
		{".", false},
		{"...", true},
		{".a", true},
		{"%41", false},
	}
	for _, tc := range tests {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
