// Package httpx holds what rtchub's two HTTP listeners share: JSON bodies
// and errors, strict request decoding, bearer tokens and the answers for a
// refused one, the mapping of store errors to statuses, health, and the
// handler wrapper that turns panics and the router's own plain-text errors
// into JSON.
package httpx
