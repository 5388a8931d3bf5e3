package game

// ring keeps the shared parts of the most recent deltas so that a member who missed some (a
// reconnect, a gap) gets exactly those instead of a snapshot. Entries are immutable byte slices
// (the same ones delivered live), so keeping them costs no copy.
type ring struct {
	entries []ringEntry
	start   int // index of the oldest entry
	n       int
}

type ringEntry struct {
	tick, since uint32
	shared      []byte
}

func newRing(size int) ring {
	if size < 2 {
		size = 2
	}
	return ring{entries: make([]ringEntry, size)}
}

func (r *ring) push(tick, since uint32, shared []byte) {
	i := (r.start + r.n) % len(r.entries)
	r.entries[i] = ringEntry{tick: tick, since: since, shared: shared}
	if r.n < len(r.entries) {
		r.n++
	} else {
		r.start = (r.start + 1) % len(r.entries)
	}
}

func (r *ring) reset() {
	clear(r.entries)
	r.start, r.n = 0, 0
}

// after returns the entries that follow tick, oldest first, if the ring still holds the whole
// chain from tick (the first one applies on top of tick). ok is false when tick is too old or
// not a tick the stream went through.
func (r *ring) after(tick uint32) (out []ringEntry, ok bool) {
	for k := 0; k < r.n; k++ {
		e := r.entries[(r.start+k)%len(r.entries)]
		if e.tick-e.since == tick {
			for j := k; j < r.n; j++ {
				out = append(out, r.entries[(r.start+j)%len(r.entries)])
			}
			return out, true
		}
		if e.tick > tick {
			return nil, false
		}
	}
	return nil, false
}
