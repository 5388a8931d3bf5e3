package game

import (
	"slices"
	"sync/atomic"
	"time"
)

// tickWindow is how many recent tick durations a match keeps for its p99; tickEvery is how
// often (in ticks) the match goroutine recomputes it (a sort of tickWindow values: amortised,
// a few operations per tick).
const (
	tickWindow = 256
	tickEvery  = 32
)

// tickStats are a match's recent tick durations. The ring is owned by the match goroutine;
// p99 and overruns are atomics read by anyone (Info).
type tickStats struct {
	ring     [tickWindow]time.Duration
	n        int // ticks observed (capped at tickWindow for the window)
	next     int
	scratch  []time.Duration
	p99      atomic.Int64 // nanoseconds
	overruns atomic.Uint64
}

// observe records one tick (match goroutine).
func (t *tickStats) observe(d time.Duration, overrun bool) {
	if overrun {
		t.overruns.Add(1)
	}
	t.ring[t.next] = d
	t.next = (t.next + 1) % tickWindow
	if t.n < tickWindow {
		t.n++
	}
	// Early on, every tick (a new match shows a figure at once); later every tickEvery ticks.
	if t.n >= tickEvery && t.next%tickEvery != 0 {
		return
	}
	t.scratch = append(t.scratch[:0], t.ring[:t.n]...)
	slices.Sort(t.scratch)
	i := (len(t.scratch)*99 + 99) / 100 // nearest rank
	t.p99.Store(int64(t.scratch[i-1]))
}
