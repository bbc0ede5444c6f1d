package store

import (
	"cmp"
	"slices"
)

// history is a user's newest retractions, by seq: what a device that was
// away missed. It is complete for seqs above floor.
//
// It is a ring that grows to max entries and then overwrites its oldest: a
// busy user's history turns over every few minutes, and a slice that slid
// forward would be reallocated each time it ran out of room, holding up to
// twice max entries and leaving the old array to the collector.
type history struct {
	buf   []Retraction // oldest at start once len(buf) == max
	start int
	floor uint64 // the seq of the newest retraction dropped
}

// add notes t, keeping the newest max.
func (h *history) add(t Retraction, max int) {
	if max <= 0 {
		h.floor = t.Seq
		return
	}
	if len(h.buf) < max {
		if len(h.buf) == cap(h.buf) {
			grown := make([]Retraction, len(h.buf), min(max, 2*cap(h.buf)+4))
			copy(grown, h.buf)
			h.buf = grown
		}
		h.buf = append(h.buf, t)
		return
	}
	h.floor = h.buf[h.start].Seq
	h.buf[h.start] = t
	if h.start++; h.start == len(h.buf) {
		h.start = 0
	}
}

// after appends to dst the retractions with a seq above seq, oldest first,
// of copies of messages up to seq (the ones a device that saw seq may show).
func (h *history) after(dst []Retraction, seq uint64) []Retraction {
	for _, part := range [2][]Retraction{h.buf[h.start:], h.buf[:h.start]} {
		i, _ := slices.BinarySearchFunc(part, seq+1, func(t Retraction, s uint64) int { return cmp.Compare(t.Seq, s) })
		for _, t := range part[i:] {
			if t.MsgSeq <= seq {
				dst = append(dst, t)
			}
		}
	}
	return dst
}
