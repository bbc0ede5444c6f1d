package auth

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestHashAndCheckSecret(t *testing.T) {
	secret := NewSecret()
	hash, err := HashSecret(secret)
	if err != nil {
		t.Fatalf("HashSecret: %v", err)
	}
	if hash == secret || !strings.HasPrefix(hash, "$2") {
		t.Fatalf("hash %q does not look like bcrypt", hash)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != bcrypt.DefaultCost {
		t.Fatalf("bcrypt cost = %d (err %v), want %d", cost, err, bcrypt.DefaultCost)
	}
	max := strings.Repeat("s", 72)
	maxHash, err := HashSecret(max)
	if err != nil {
		t.Fatalf("HashSecret(72 bytes): %v", err)
	}

	tests := []struct {
		name, hash, secret string
		want               bool
	}{
		{"right", hash, secret, true},
		{"wrong", hash, NewSecret(), false},
		{"prefix of right", hash, secret[:len(secret)-1], false},
		{"right plus suffix", hash, secret + "x", false},
		{"empty secret", hash, "", false},
		{"unknown client", "", secret, false},
		{"unknown client empty secret", "", "", false},
		{"garbage hash", "not-a-hash", secret, false},
		{"72 bytes right", maxHash, max, true},
		// bcrypt ignores bytes past 72; CheckSecret must not.
		{"73 bytes sharing 72-byte prefix", maxHash, max + "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // bcrypt is slow, very slow under -race
			if got := CheckSecret(tt.hash, tt.secret); got != tt.want {
				t.Fatalf("CheckSecret = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHashSecretRejects(t *testing.T) {
	for _, secret := range []string{"", strings.Repeat("s", 73), strings.Repeat("s", 1000)} {
		hash, err := HashSecret(secret)
		if err == nil || hash != "" {
			t.Errorf("HashSecret(%d bytes) = %q, %v; want error", len(secret), hash, err)
		}
	}
	_, err := HashSecret(strings.Repeat("s", 73))
	if err == nil || !strings.Contains(err.Error(), "72") {
		t.Errorf("too-long error %q does not mention the 72-byte limit", err)
	}
}

func TestDummyHashIsStable(t *testing.T) {
	h := dummyHash()
	if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost != bcrypt.DefaultCost {
		t.Fatalf("dummy hash cost = %d (err %v), want %d", cost, err, bcrypt.DefaultCost)
	}
	if dummyHash() != h {
		t.Fatal("dummy hash recomputed")
	}
}

func TestNewSecret(t *testing.T) {
	seen := make(map[string]bool)
	for i := 0; i < 1000; i++ {
		s := NewSecret()
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("NewSecret() = %q: decodes to %d bytes, err %v", s, len(b), err)
		}
		if seen[s] {
			t.Fatalf("NewSecret repeated %q", s)
		}
		seen[s] = true
	}
}

func TestNewClientID(t *testing.T) {
	shape := regexp.MustCompile(`^app_[0-9a-f]{16}$`)
	seen := make(map[string]bool)
	for i := 0; i < 1000; i++ {
		id := NewClientID()
		if !shape.MatchString(id) {
			t.Fatalf("NewClientID() = %q, want app_ + 16 lowercase hex", id)
		}
		if !ValidID(id) {
			t.Fatalf("client id %q is not a valid token subject", id)
		}
		if seen[id] {
			t.Fatalf("NewClientID repeated %q", id)
		}
		seen[id] = true
	}
}
