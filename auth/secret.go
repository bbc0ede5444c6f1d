package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// maxSecretLen is bcrypt's input limit. Longer inputs are refused rather than
// truncated so that two secrets sharing a 72-byte prefix never both match.
const maxSecretLen = 72

var (
	errEmptySecret   = errors.New("auth: client secret is empty")
	errSecretTooLong = errors.New("auth: client secret exceeds bcrypt's 72-byte limit")
)

// NewSecret returns a fresh client secret: 32 random bytes (256 bits) encoded
// as unpadded base64url, so it is 43 characters, safe in URLs and form bodies
// and well under bcrypt's 72-byte limit.
func NewSecret() string {
	var b [32]byte
	rand.Read(b[:]) // never fails; see crypto/rand.Read
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewClientID returns a fresh client id: "app_" and 16 lowercase hex digits.
// The prefix makes application ids recognisable in logs; 64 random bits make
// collisions negligible without a registry round trip.
func NewClientID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails; see crypto/rand.Read
	return "app_" + hex.EncodeToString(b[:])
}

// HashSecret returns the bcrypt hash of secret at bcrypt.DefaultCost for
// storage. Empty secrets and secrets longer than 72 bytes are refused.
func HashSecret(secret string) (string, error) {
	if err := checkSecretLen(secret); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// CheckSecret reports whether secret matches hash.
//
// Pass hash == "" for an unknown client id: CheckSecret then still performs
// a full bcrypt comparison against a dummy hash and returns false, so a
// caller cannot learn which client ids exist from response times.
func CheckSecret(hash, secret string) bool {
	ok := checkSecretLen(secret) == nil
	if hash == "" {
		hash, ok = dummyHash(), false
	}
	// Compare even when the outcome is already known, to keep timing flat.
	match := bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) == nil
	return ok && match
}

func checkSecretLen(secret string) error {
	switch {
	case secret == "":
		return errEmptySecret
	case len(secret) > maxSecretLen:
		return errSecretTooLong
	}
	return nil
}

// dummyHash is computed on first use rather than hard-coded so that its cost
// always equals bcrypt.DefaultCost, the cost of real hashes.
var dummyHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte("rtchub dummy secret for unknown clients"), bcrypt.DefaultCost)
	if err != nil {
		panic("auth: computing dummy bcrypt hash: " + err.Error())
	}
	return string(h)
})
