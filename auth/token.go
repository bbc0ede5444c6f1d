package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind says what a token is for. The kind is covered by the MAC, so a token
// of one kind is never accepted where the other is needed.
type Kind byte

const (
	KindClient Kind = 'c' // application access token (subject = client id)
	KindUser   Kind = 'u' // user token for /sse and /ack (subject = user id)
)

// String returns "client", "user", or a numeric form for unknown kinds so
// that log lines never show a raw control byte.
func (k Kind) String() string {
	switch k {
	case KindClient:
		return "client"
	case KindUser:
		return "user"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Claims are what a token asserts.
type Claims struct {
	Kind    Kind
	Subject string // client id or user id, by ValidID
	// Gen is the subject's revocation generation when the token was issued.
	// Tokens cannot be recalled individually; instead the caller bumps the
	// subject's generation and rejects tokens whose Gen is older.
	Gen       uint64
	IssuedAt  time.Time // second precision
	ExpiresAt time.Time // second precision
}

// Errors returned by [Signer.Verify]. ErrMalformed means the input is not a
// token at all (a client bug, so 400); the others mean a well-formed token
// that must not be honoured (401).
var (
	ErrMalformed = errors.New("auth: malformed token")
	ErrSignature = errors.New("auth: token signature mismatch")
	ErrExpired   = errors.New("auth: token expired")
	ErrWrongKind = errors.New("auth: wrong token kind")
)

// KeySize is the signing key length: the HMAC-SHA256 output size, below which
// the key, not the hash, would be the weakest link.
const KeySize = 32

const (
	prefix = "rt1."

	maxSubject = 128
	minPayload = 1 + 1 + 1 + 1 + 1 // kind, three one-byte varints, one subject char
	maxPayload = 1 + 3*binary.MaxVarintLen64 + maxSubject
	macLen     = sha256.Size

	// maxTokenLen bounds the input before any decoding so that hostile
	// headers cost nothing. A maximal token is 260 bytes; the slack keeps the
	// limit round without admitting anything decodable.
	maxTokenLen = 300
)

var (
	b64 = base64.RawURLEncoding.Strict()

	minPayloadB64 = b64.EncodedLen(minPayload)
	maxPayloadB64 = b64.EncodedLen(maxPayload)
	macB64        = b64.EncodedLen(macLen)
)

// A Signer signs and verifies tokens with one HMAC key. It is safe for
// concurrent use.
type Signer struct {
	pool sync.Pool // of *macState
}

// macState is the per-call scratch space. Pooling it keeps Sign at one
// allocation (the returned string) and Verify at one (the subject), because
// anything handed to hash.Hash.Write would otherwise escape to the heap.
type macState struct {
	h   hash.Hash
	raw [maxPayload]byte
	tok [maxTokenLen]byte // fits any valid token; Sign spills to the heap for invalid oversize claims
	sum [macLen]byte
}

// NewSigner returns a Signer using a private copy of key, so later changes to
// the caller's slice cannot alter or race with signing.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < KeySize {
		return nil, errors.New("auth: signing key must be at least " + strconv.Itoa(KeySize) + " bytes, got " + strconv.Itoa(len(key)))
	}
	k := append([]byte(nil), key...)
	s := &Signer{}
	s.pool.New = func() any { return &macState{h: hmac.New(sha256.New, k)} }
	return s, nil
}

// Sign returns the token for c. Times are whole seconds: IssuedAt is
// truncated and ExpiresAt rounded up, so a token never lives shorter than
// asked (a one-second token would otherwise die at once).
//
// Sign does not validate c: claims that Verify would refuse (a bad subject,
// an unknown kind, times before 1970, ExpiresAt not after IssuedAt) yield a
// token that Verify rejects as ErrMalformed. Callers sign only ids they have
// already validated, so a check here would be an error path nobody takes.
func (s *Signer) Sign(c Claims) string {
	st := s.pool.Get().(*macState)
	defer s.pool.Put(st)

	raw := st.raw[:0]
	raw = append(raw, byte(c.Kind))
	raw = binary.AppendUvarint(raw, c.Gen)
	raw = binary.AppendUvarint(raw, uint64(c.IssuedAt.Unix()))
	exp := c.ExpiresAt.Unix()
	if c.ExpiresAt.After(time.Unix(exp, 0)) {
		exp++
	}
	raw = binary.AppendUvarint(raw, uint64(exp))
	raw = append(raw, c.Subject...)

	tok := append(st.tok[:0], prefix...)
	tok = b64.AppendEncode(tok, raw)

	st.h.Reset()
	st.h.Write(tok)
	sum := st.h.Sum(st.sum[:0])

	tok = append(tok, '.')
	tok = b64.AppendEncode(tok, sum)
	return string(tok)
}

// Verify checks token and returns its claims if it is a valid, unexpired
// token of kind want at time now. On any error the returned Claims are zero,
// so a caller that forgets the error still learns nothing usable.
//
// The MAC is checked before any payload field is interpreted: until then the
// bytes are attacker-controlled, and parsing them first would expose the
// parser to unauthenticated input and leak timing about its structure.
func (s *Signer) Verify(token string, want Kind, now time.Time) (Claims, error) {
	if len(token) > maxTokenLen || !strings.HasPrefix(token, prefix) {
		return Claims{}, ErrMalformed
	}
	// Only the base64url alphabet and dots may appear. The base64 decoder
	// skips CR and LF, which would otherwise let distinct strings decode to
	// the same token.
	for i := len(prefix); i < len(token); i++ {
		if !isTokenByte(token[i]) {
			return Claims{}, ErrMalformed
		}
	}
	rest := token[len(prefix):]
	dot := strings.IndexByte(rest, '.')
	if dot < 0 {
		return Claims{}, ErrMalformed
	}
	payloadB64, macPart := rest[:dot], rest[dot+1:]
	if len(payloadB64) < minPayloadB64 || len(payloadB64) > maxPayloadB64 || len(macPart) != macB64 {
		return Claims{}, ErrMalformed
	}

	st := s.pool.Get().(*macState)
	defer s.pool.Put(st)

	// Decoding from a string into the pooled arrays avoids converting the
	// token to []byte. Strict mode rejects non-zero trailing bits, without
	// which several MAC strings would decode to the same MAC.
	var got [macLen]byte
	if n, err := decodeString(got[:], macPart); err != nil || n != macLen {
		return Claims{}, ErrMalformed
	}
	n, err := decodeString(st.raw[:], payloadB64)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	raw := st.raw[:n]

	signed := append(st.tok[:0], token[:len(prefix)+len(payloadB64)]...)
	st.h.Reset()
	st.h.Write(signed)
	if !hmac.Equal(st.h.Sum(st.sum[:0]), got[:]) {
		return Claims{}, ErrSignature
	}

	c, ok := decodePayload(raw)
	if !ok {
		return Claims{}, ErrMalformed
	}
	if c.Kind != want {
		return Claims{}, ErrWrongKind
	}
	if !now.Before(c.ExpiresAt) {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// decodeString decodes s into dst, which the caller has sized for the
// largest acceptable input.
func decodeString(dst []byte, s string) (int, error) {
	if b64.DecodedLen(len(s)) > len(dst) {
		return 0, ErrMalformed
	}
	// A short stack copy keeps the []byte conversion from allocating.
	var buf [maxTokenLen]byte
	return b64.Decode(dst, append(buf[:0], s...))
}

// decodePayload parses an authenticated payload strictly, so that every
// accepted token is the unique encoding of its claims.
func decodePayload(raw []byte) (Claims, bool) {
	if len(raw) < minPayload {
		return Claims{}, false
	}
	c := Claims{Kind: Kind(raw[0])}
	if c.Kind != KindClient && c.Kind != KindUser {
		return Claims{}, false
	}
	raw = raw[1:]
	var iat, exp uint64
	for _, p := range [...]*uint64{&c.Gen, &iat, &exp} {
		v, n := uvarint(raw)
		if n <= 0 {
			return Claims{}, false
		}
		*p = v
		raw = raw[n:]
	}
	if iat > math.MaxInt64 || exp > math.MaxInt64 || exp <= iat {
		return Claims{}, false
	}
	c.Subject = string(raw)
	if !ValidID(c.Subject) {
		return Claims{}, false
	}
	c.IssuedAt = time.Unix(int64(iat), 0).UTC()
	c.ExpiresAt = time.Unix(int64(exp), 0).UTC()
	return c, true
}

// uvarint is binary.Uvarint that also rejects non-minimal encodings (a
// trailing zero group), which binary.Uvarint accepts.
func uvarint(b []byte) (uint64, int) {
	v, n := binary.Uvarint(b)
	if n > 1 && b[n-1] == 0 {
		return 0, 0
	}
	return v, n
}

func isTokenByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '-' || b == '_' || b == '.'
}
