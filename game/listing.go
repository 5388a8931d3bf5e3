package game

import (
	"encoding/base64"
	"errors"
	"sort"
	"strconv"
)

// ErrBadCursor is returned by Page for a cursor it did not issue.
var ErrBadCursor = errors.New("game: invalid listing cursor")

// Filter selects matches in List and Page.
type Filter struct {
	Game           string            // "" any
	Label          map[string]string // every pair must match
	HasFreeSeats   bool              // players + live reservations < max players
	IncludePrivate bool
	Limit          int // List only: 0 no limit
}

// Matches reports whether i passes f (an ended match never does).
func (f Filter) Matches(i Info) bool {
	if i.Ended || (i.Private && !f.IncludePrivate) || (f.Game != "" && i.Game != f.Game) ||
		(f.HasFreeSeats && i.Players+i.Reserved >= i.MaxPlayers) {
		return false
	}
	for k, v := range f.Label {
		if i.Label[k] != v {
			return false
		}
	}
	return true
}

// orderIndex keeps the running matches in creation order (by seq), so a listing page costs
// what the page holds (plus the matches its filter skips), not a copy and sort of every match.
// A removed match leaves a hole (its seq kept, so the order stays searchable), compacted once
// holes are half the slice. Guarded by Registry.mu.
type orderIndex struct {
	ms    []orderEntry // ascending seq
	holes int
}

type orderEntry struct {
	seq uint64
	m   *Match // nil: removed
}

func (x *orderIndex) add(m *Match) { x.ms = append(x.ms, orderEntry{seq: m.seq, m: m}) } // seq only grows

// at is the position of the first entry with seq ≥ seq.
func (x *orderIndex) at(seq uint64) int {
	return sort.Search(len(x.ms), func(i int) bool { return x.ms[i].seq >= seq })
}

func (x *orderIndex) remove(m *Match) {
	if i := x.at(m.seq); i < len(x.ms) && x.ms[i].m == m {
		x.ms[i].m = nil
		x.holes++
	}
	if x.holes > 64 && x.holes*2 > len(x.ms) {
		live := x.ms[:0]
		for _, e := range x.ms {
			if e.m != nil {
				live = append(live, e)
			}
		}
		clear(x.ms[len(live):])
		x.ms, x.holes = live, 0
	}
}

// Page returns up to limit running matches that pass f and were created after the match that
// cursor names ("" from the oldest), oldest first, and the cursor of the next page ("" after
// the last). Cursors are opaque strings; a malformed one is ErrBadCursor. limit ≤ 0 means 100.
func (r *Registry) Page(f Filter, cursor string, limit int) ([]Info, string, error) {
	if limit <= 0 {
		limit = 100
	}
	var from uint64
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			return nil, "", ErrBadCursor
		}
		n, err := strconv.ParseUint(string(b), 10, 64)
		if err != nil {
			return nil, "", ErrBadCursor
		}
		from = n + 1
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Info, 0, min(limit, 16))
	var last uint64
	for i := r.order.at(from); i < len(r.order.ms); i++ {
		m := r.order.ms[i].m
		if m == nil {
			continue
		}
		if len(out) == limit {
			return out, base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(last, 10))), nil
		}
		if info := m.Info(); f.Matches(info) {
			out = append(out, info)
			last = m.seq
		}
	}
	return out, "", nil
}

// List returns the running matches that pass f, oldest first, at most f.Limit (0: all).
func (r *Registry) List(f Filter) []Info {
	limit := f.Limit
	if limit <= 0 {
		limit = int(^uint(0) >> 1)
	}
	out, _, _ := r.Page(f, "", limit)
	return out
}
