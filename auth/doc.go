// Package auth hashes application client secrets and issues and checks the
// bearer tokens of rtchub. It knows nothing of HTTP or storage: callers map
// its errors to status codes and compare [Claims.Gen] with the subject's
// current revocation generation themselves.
//
// # Token format
//
// A token is three dot-separated parts:
//
//	rt1.<payload>.<mac>
//
// where <payload> is the base64url (unpadded) encoding of a compact binary
// payload and <mac> is the base64url (unpadded) encoding of
//
//	HMAC-SHA256(key, "rt1." + <payload>)
//
// The payload is, in order:
//
//	kind    1 byte: 'c' (client) or 'u' (user)
//	gen     uvarint, the subject's revocation generation
//	iat     uvarint, issue time in Unix seconds
//	exp     uvarint, expiry time in Unix seconds, greater than iat
//	subject the remaining bytes: 1-128 characters of [A-Za-z0-9._@-]
//
// The version lives in the prefix rather than the payload so that a future
// format can be told apart before any decoding. The encoding is canonical
// (strict base64, minimal varints), so a given set of claims has exactly one
// token and an accepted token re-signs to itself byte for byte. A binary
// payload rather than JSON keeps tokens short (at most about 260 bytes) and
// lets Sign and Verify run without parsing or reflection.
package auth
