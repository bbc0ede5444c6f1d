package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	testKey  = bytes.Repeat([]byte{0x42}, KeySize)
	otherKey = bytes.Repeat([]byte{0x24}, KeySize)
	t0       = time.Unix(1_700_000_000, 0).UTC()
)

func mustSigner(tb testing.TB, key []byte) *Signer {
	tb.Helper()
	s, err := NewSigner(key)
	if err != nil {
		tb.Fatalf("NewSigner: %v", err)
	}
	return s
}

func claims(k Kind, sub string) Claims {
	return Claims{Kind: k, Subject: sub, Gen: 7, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
}

// signRaw builds a correctly MACed token around an arbitrary payload, to
// prove that the payload checks run after the MAC and do not rely on Sign.
// It computes the MAC independently of Signer.
func signRaw(key, payload []byte) string {
	head := "rt1." + base64.RawURLEncoding.EncodeToString(payload)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(head))
	return head + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func payload(kind byte, gen, iat, exp uint64, sub string) []byte {
	b := []byte{kind}
	b = binary.AppendUvarint(b, gen)
	b = binary.AppendUvarint(b, iat)
	b = binary.AppendUvarint(b, exp)
	return append(b, sub...)
}

func TestNewSignerShortKey(t *testing.T) {
	for _, n := range []int{0, 1, KeySize - 1} {
		if _, err := NewSigner(make([]byte, n)); err == nil {
			t.Errorf("NewSigner(%d-byte key) succeeded", n)
		}
	}
	if _, err := NewSigner(make([]byte, KeySize+10)); err != nil {
		t.Errorf("NewSigner(long key): %v", err)
	}
}

func TestSignerCopiesKey(t *testing.T) {
	key := bytes.Clone(testKey)
	s := mustSigner(t, key)
	tok := s.Sign(claims(KindUser, "alice"))
	key[0] ^= 0xff
	if _, err := s.Verify(tok, KindUser, t0); err != nil {
		t.Fatalf("Verify after mutating caller's key: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	s := mustSigner(t, testKey)
	tests := []struct {
		name string
		c    Claims
	}{
		{"client", claims(KindClient, "app_0123456789abcdef")},
		{"user", claims(KindUser, "alice@example.com")},
		{"one char subject", claims(KindUser, "x")},
		{"max subject", claims(KindUser, strings.Repeat("a.b_c@d-E9", 12)+"12345678")},
		{"zero gen", Claims{Kind: KindUser, Subject: "u", Gen: 0, IssuedAt: time.Unix(0, 0), ExpiresAt: time.Unix(1, 0)}},
		{"max gen", Claims{Kind: KindClient, Subject: "c", Gen: ^uint64(0), IssuedAt: t0, ExpiresAt: t0.Add(time.Second)}},
		{"far future", Claims{Kind: KindUser, Subject: "u", Gen: 1, IssuedAt: t0, ExpiresAt: time.Unix(1<<62, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := s.Sign(tt.c)
			if !strings.HasPrefix(tok, "rt1.") || strings.Count(tok, ".") != 2 {
				t.Fatalf("token %q has wrong shape", tok)
			}
			if len(tok) > maxTokenLen {
				t.Fatalf("token length %d exceeds %d", len(tok), maxTokenLen)
			}
			got, err := s.Verify(tok, tt.c.Kind, tt.c.IssuedAt)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Kind != tt.c.Kind || got.Subject != tt.c.Subject || got.Gen != tt.c.Gen ||
				!got.IssuedAt.Equal(tt.c.IssuedAt) || !got.ExpiresAt.Equal(tt.c.ExpiresAt) {
				t.Fatalf("Verify = %+v, want %+v", got, tt.c)
			}
			if again := s.Sign(got); again != tok {
				t.Fatalf("re-signed token differs:\n got %s\nwant %s", again, tok)
			}
		})
	}
}

// TestFormat pins the wire format documented in the package comment against
// an independent encoder, so a change to Sign cannot silently break tokens
// already issued.
func TestFormat(t *testing.T) {
	s := mustSigner(t, testKey)
	c := claims(KindClient, "app_0123456789abcdef")
	want := signRaw(testKey, payload('c', 7, uint64(t0.Unix()), uint64(t0.Add(time.Hour).Unix()), c.Subject))
	if got := s.Sign(c); got != want {
		t.Fatalf("Sign = %s\nwant %s", got, want)
	}
}

func TestSignRoundsToSeconds(t *testing.T) {
	s := mustSigner(t, testKey)
	c := claims(KindUser, "u")
	c.IssuedAt = c.IssuedAt.Add(999 * time.Millisecond)
	c.ExpiresAt = c.ExpiresAt.Add(500 * time.Millisecond)
	got, err := s.Verify(s.Sign(c), KindUser, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Issued-at is truncated; expiry is rounded up, never cut short.
	if !got.IssuedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(time.Hour+time.Second)) {
		t.Fatalf("times not rounded: %v %v", got.IssuedAt, got.ExpiresAt)
	}
	c.ExpiresAt = t0.Add(time.Hour) // whole seconds stay as they are
	if got, _ := s.Verify(s.Sign(c), KindUser, t0); !got.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("whole-second expiry moved: %v", got.ExpiresAt)
	}
}

func TestVerifyErrors(t *testing.T) {
	s := mustSigner(t, testKey)
	user := s.Sign(claims(KindUser, "alice"))
	client := s.Sign(claims(KindClient, "app_0123456789abcdef"))
	exp := t0.Add(time.Hour)

	flip := func(tok string, i int) string {
		b := []byte(tok)
		// Swap to another base64url character so that the failure is the
		// signature, not the encoding.
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	dot := strings.LastIndexByte(user, '.')
	longSub := strings.Repeat("a", maxSubject+1)

	tests := []struct {
		name  string
		token string
		want  Kind
		now   time.Time
		err   error
	}{
		{"valid user", user, KindUser, t0, nil},
		{"valid client", client, KindClient, t0, nil},
		{"just before expiry", user, KindUser, exp.Add(-time.Nanosecond), nil},

		{"wrong kind user as client", user, KindClient, t0, ErrWrongKind},
		{"wrong kind client as user", client, KindUser, t0, ErrWrongKind},
		{"wrong kind beats expiry", user, KindClient, exp.Add(time.Hour), ErrWrongKind},

		{"expired at exp", user, KindUser, exp, ErrExpired},
		{"expired after exp", user, KindUser, exp.Add(time.Second), ErrExpired},

		{"other key", mustSigner(t, otherKey).Sign(claims(KindUser, "alice")), KindUser, t0, ErrSignature},
		{"flip first payload char", flip(user, len(prefix)), KindUser, t0, ErrSignature},
		{"flip middle payload char", flip(user, len(prefix)+5), KindUser, t0, ErrSignature},
		{"flip last payload char", flip(user, dot-1), KindUser, t0, ErrSignature},
		{"flip first mac char", flip(user, dot+1), KindUser, t0, ErrSignature},
		{"flip middle mac char", flip(user, dot+20), KindUser, t0, ErrSignature},
		{"swap payloads", user[:dot] + client[strings.LastIndexByte(client, '.'):], KindUser, t0, ErrSignature},
		{"signature over bad payload", prefix + "AAAAAAAA." + user[dot+1:], KindUser, t0, ErrSignature},

		{"empty", "", KindUser, t0, ErrMalformed},
		{"prefix only", "rt1.", KindUser, t0, ErrMalformed},
		{"no dots", "rt1" + strings.ReplaceAll(user[3:], ".", ""), KindUser, t0, ErrMalformed},
		{"missing mac", user[:dot], KindUser, t0, ErrMalformed},
		{"empty mac", user[:dot+1], KindUser, t0, ErrMalformed},
		{"empty payload", prefix + "." + user[dot+1:], KindUser, t0, ErrMalformed},
		{"extra part", user + ".AAAA", KindUser, t0, ErrMalformed},
		{"wrong prefix", "rt2." + user[4:], KindUser, t0, ErrMalformed},
		{"uppercase prefix", "RT1." + user[4:], KindUser, t0, ErrMalformed},
		{"bearer prefix kept", "Bearer " + user, KindUser, t0, ErrMalformed},
		{"std base64 char", user[:len(prefix)+2] + "+" + user[len(prefix)+3:], KindUser, t0, ErrMalformed},
		{"padding", user[:dot] + "=" + user[dot:], KindUser, t0, ErrMalformed},
		{"newline in mac", user[:dot+10] + "\n" + user[dot+11:], KindUser, t0, ErrMalformed},
		{"newline in payload", user[:len(prefix)+4] + "\n" + user[len(prefix)+4:], KindUser, t0, ErrMalformed},
		{"trailing space", user + " ", KindUser, t0, ErrMalformed},
		{"mac nonzero trailing bits", nonCanonicalMAC(t, user), KindUser, t0, ErrMalformed},
		{"truncated mac", user[:len(user)-1], KindUser, t0, ErrMalformed},
		{"oversize", user + strings.Repeat("A", maxTokenLen), KindUser, t0, ErrMalformed},
		{"oversize just over limit", prefix + strings.Repeat("A", maxTokenLen-len(prefix)-44) + "." + strings.Repeat("A", 44), KindUser, t0, ErrMalformed},
		{"non-ascii", prefix + "é" + user[len(prefix)+2:], KindUser, t0, ErrMalformed},

		// Correctly MACed payloads that must still be refused.
		{"bad subject char", signRaw(testKey, payload('u', 1, 10, 20, "al ice")), KindUser, t0, ErrMalformed},
		{"bad subject slash", signRaw(testKey, payload('u', 1, 10, 20, "a/b")), KindUser, t0, ErrMalformed},
		{"subject utf8", signRaw(testKey, payload('u', 1, 10, 20, "zoë")), KindUser, t0, ErrMalformed},
		{"subject nul", signRaw(testKey, payload('u', 1, 10, 20, "a\x00")), KindUser, t0, ErrMalformed},
		{"empty subject", signRaw(testKey, payload('u', 1, 10, 20, "")), KindUser, t0, ErrMalformed},
		{"subject too long", signRaw(testKey, payload('u', 1, 10, 20, longSub)), KindUser, t0, ErrMalformed},
		{"unknown kind", signRaw(testKey, payload('x', 1, 10, 20, "alice")), KindUser, t0, ErrMalformed},
		{"exp equals iat", signRaw(testKey, payload('u', 1, 20, 20, "alice")), KindUser, t0, ErrMalformed},
		{"exp before iat", signRaw(testKey, payload('u', 1, 20, 10, "alice")), KindUser, t0, ErrMalformed},
		{"iat beyond int64", signRaw(testKey, payload('u', 1, 1<<63, 1<<63+1, "alice")), KindUser, t0, ErrMalformed},
		{"non-minimal varint", signRaw(testKey, []byte{'u', 0x81, 0x00, 10, 20, 'a'}), KindUser, t0, ErrMalformed},
		{"truncated varint", signRaw(testKey, []byte{'u', 1, 10, 0x80, 0x80}), KindUser, t0, ErrMalformed},
		{"varint overflow", signRaw(testKey, append([]byte{'u'}, bytes.Repeat([]byte{0xff}, 11)...)), KindUser, t0, ErrMalformed},
		{"payload too short", signRaw(testKey, []byte{'u', 1, 10, 20}), KindUser, t0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Verify(tt.token, tt.want, tt.now)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Verify(%q) error = %v, want %v", tt.token, err, tt.err)
			}
			if err != nil && got != (Claims{}) {
				t.Fatalf("Verify returned claims %+v alongside error", got)
			}
			if err == nil && got.Kind != tt.want {
				t.Fatalf("Verify returned kind %v, want %v", got.Kind, tt.want)
			}
		})
	}
}

// nonCanonicalMAC sets the unused low bits of the MAC's final character. A
// lenient decoder would map this to the same MAC and accept a second
// spelling of the token.
func nonCanonicalMAC(t *testing.T, tok string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	if last < 0 || last&3 != 0 {
		t.Fatalf("final MAC character %q is not canonical", tok[len(tok)-1])
	}
	return tok[:len(tok)-1] + string(alphabet[last|1])
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindClient: "client", KindUser: "user", 0: "Kind(0)", 'x': "Kind(120)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", byte(k), got, want)
		}
	}
}

func TestSignConcurrent(t *testing.T) {
	s := mustSigner(t, testKey)
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			c := claims(KindUser, "user"+string(rune('a'+g)))
			var err error
			for i := 0; i < 200 && err == nil; i++ {
				c.Gen = uint64(i)
				var got Claims
				got, err = s.Verify(s.Sign(c), KindUser, t0)
				if err == nil && (got.Subject != c.Subject || got.Gen != c.Gen) {
					err = errors.New("claims mixed up between goroutines")
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	s := mustSigner(f, testKey)
	for _, c := range []Claims{
		claims(KindUser, "alice"),
		claims(KindClient, "app_0123456789abcdef"),
		claims(KindUser, strings.Repeat("z", maxSubject)),
		{Kind: KindUser, Subject: "u", Gen: ^uint64(0), IssuedAt: time.Unix(0, 0), ExpiresAt: time.Unix(1<<62, 0)},
	} {
		f.Add(s.Sign(c))
	}
	for _, junk := range []string{
		"", "rt1.", "rt1..", "rt1.A.A", "rt1.AAAAAAAA.", "hello", "rt1.\n.\r",
		strings.Repeat("A", 400), prefix + strings.Repeat(".", 50),
		signRaw(testKey, payload('u', 1, 20, 10, "alice")),
		signRaw(testKey, []byte{'u', 0x81, 0x00, 10, 20, 'a'}),
	} {
		f.Add(junk)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		for _, kind := range []Kind{KindClient, KindUser} {
			c, err := s.Verify(tok, kind, t0)
			switch {
			case err == nil:
				if again := s.Sign(c); again != tok {
					t.Fatalf("accepted token does not re-sign to itself:\n got %q\nwant %q", again, tok)
				}
				if c.Kind != kind || !ValidID(c.Subject) || !c.ExpiresAt.After(c.IssuedAt) || !t0.Before(c.ExpiresAt) {
					t.Fatalf("accepted invalid claims %+v", c)
				}
			case errors.Is(err, ErrMalformed), errors.Is(err, ErrSignature),
				errors.Is(err, ErrExpired), errors.Is(err, ErrWrongKind):
				if c != (Claims{}) {
					t.Fatalf("non-zero claims %+v with error %v", c, err)
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}

var sinkClaims Claims

func BenchmarkSign(b *testing.B) {
	s := mustSigner(b, testKey)
	c := claims(KindUser, "alice@example.com")
	b.ReportAllocs()
	var tok string
	for b.Loop() {
		tok = s.Sign(c)
	}
	_ = tok
}

func BenchmarkVerify(b *testing.B) {
	s := mustSigner(b, testKey)
	tok := s.Sign(claims(KindUser, "alice@example.com"))
	b.ReportAllocs()
	for b.Loop() {
		c, err := s.Verify(tok, KindUser, t0)
		if err != nil {
			b.Fatal(err)
		}
		sinkClaims = c
	}
}

func BenchmarkVerifyBadSignature(b *testing.B) {
	s := mustSigner(b, testKey)
	tok := mustSigner(b, otherKey).Sign(claims(KindUser, "alice@example.com"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(tok, KindUser, t0); err != ErrSignature {
			b.Fatal(err)
		}
	}
}
