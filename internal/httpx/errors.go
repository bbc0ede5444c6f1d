package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"unicode/utf8"

	"rtchub/store"
)

// FailStore answers for an error from the store: 404 for unknown names,
// 400 for an empty recipient set, 503 while shutting down, else 500.
func FailStore(w http.ResponseWriter, log *slog.Logger, err error) {
	var nf *store.NotFoundError
	var nc *store.NoCopyError
	switch {
	case errors.As(err, &nf):
		// NotFoundError's own text, with the id clipped.
		WriteError(w, http.StatusNotFound, "unknown "+nf.Kind+": "+Clip(nf.ID))
	case errors.As(err, &nc):
		WriteError(w, http.StatusNotFound, fmt.Sprintf("user %s has no copy of message %s", Clip(nc.User), Clip(nc.Message)))
	case errors.Is(err, store.ErrNoRecipients):
		WriteError(w, http.StatusBadRequest, "no recipients: the groups named have no members")
	case errors.Is(err, store.ErrClosed):
		WriteError(w, http.StatusServiceUnavailable, "the hub is shutting down")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		WriteError(w, http.StatusServiceUnavailable, "request cancelled")
	case errors.Is(err, store.ErrDiskFull):
		// Nothing was kept; the hub takes writes again once there is
		// space, by itself.
		w.Header().Set("Retry-After", "10")
		WriteError(w, http.StatusInsufficientStorage, "disk full: the change was not saved; try again once there is space")
	case errors.Is(err, store.ErrMaybeSaved):
		// The disk failed this write's own sync: it may be in the log
		// the restart reads back, and a blind retry may apply it twice.
		w.Header().Set("Retry-After", "5")
		WriteError(w, http.StatusServiceUnavailable, "the hub stops after a disk error and restarts: the change may have been saved; check before you retry (a notify sent again can arrive twice)")
	case errors.Is(err, store.ErrPoisoned):
		w.Header().Set("Retry-After", "5")
		WriteError(w, http.StatusServiceUnavailable, "the hub stops after a disk error and restarts: the change was not saved; try again")
	default:
		log.Error("store write failed", "err", err)
		WriteError(w, http.StatusInternalServerError, "could not write to the log; the change may not have been saved")
	}
}

// CheckMessageID answers 400 unless id may be a message id: 1 to 128
// bytes. The hub makes 24 hex digits, but a hand-written log may hold
// others, so nothing more is asked.
func CheckMessageID(w http.ResponseWriter, id string) bool {
	switch {
	case id == "":
		WriteError(w, http.StatusBadRequest, `"message_id" is required`)
		return false
	case len(id) > 128:
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("invalid message_id %q: use 1-128 characters", Clip(id)))
		return false
	}
	return true
}

// maxEcho is how much of a client's input an error message repeats.
const maxEcho = 64

// Clip cuts client input that an error message repeats to its first 64
// bytes (on a character boundary) plus "…", so that a 5 KB id or path
// makes a small error body.
func Clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
