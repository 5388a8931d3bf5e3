package game

import (
	"testing"
	"time"
)

// The grid arithmetic: instant i is on slot i mod K, index is the last instant at or before a
// time, firstOn the first instant of a slot at or after it.
func TestWheelGrid(t *testing.T) {
	w := &wheel{d: 50 * time.Millisecond, slots: 4, origin: time.Unix(1000, 0)}
	step := w.d / 4
	for i := int64(0); i < 20; i++ {
		at := w.at(i)
		if got := at.Sub(w.origin); got != time.Duration(i)*step {
			t.Fatalf("at(%d) = origin+%v, want +%v", i, got, time.Duration(i)*step)
		}
		if got := w.index(at); got != i {
			t.Fatalf("index(at(%d)) = %d", i, got)
		}
		if got := w.index(at.Add(step - 1)); got != i {
			t.Fatalf("index(just before at(%d)) = %d", i+1, got)
		}
		for s := int64(0); s < 4; s++ {
			f := w.firstOn(s, at.Add(1))
			if f%4 != s || f <= i || f > i+4 {
				t.Fatalf("firstOn(slot %d, just after at(%d)) = %d", s, i, f)
			}
			if f := w.firstOn(s, at); f%4 != s || f < i || f >= i+4 {
				t.Fatalf("firstOn(slot %d, at(%d)) = %d", s, i, f)
			}
		}
	}
	if got := w.index(w.origin.Add(-time.Millisecond)); got != -1 {
		t.Fatalf("index before origin = %d", got)
	}
	for _, c := range []struct {
		now  time.Duration // since the Unix epoch
		s, k int
		want time.Duration
	}{{0, 0, 4, 0}, {0, 1, 4, 12500 * time.Microsecond}, {3 * time.Millisecond, 0, 4, 47 * time.Millisecond},
		{3 * time.Millisecond, 2, 4, 22 * time.Millisecond}, {49 * time.Millisecond, 3, 4, 38500 * time.Microsecond}} {
		if got := slotPhase(time.Unix(0, int64(c.now)), w.d, c.s, c.k); got != c.want {
			t.Errorf("slotPhase(%v, slot %d of %d) = %v, want %v", c.now, c.s, c.k, got, c.want)
		}
	}
}

// On the real clock the tickers of one slot get the same instants from one timer, those of
// another slot the instants between; the first tick comes at least a period after the
// ticker started; a paused wheel has no timer armed, and a resumed ticker ticks again.
func TestRealClockSlotTickers(t *testing.T) {
	const d, k = 40 * time.Millisecond, 4 // a period no other test uses: its own wheel
	start := time.Now()
	a := RealClock{}.NewSlotTicker(d, 1, k)
	b := RealClock{}.NewSlotTicker(d, 1, k)
	c := RealClock{}.NewSlotTicker(d, 3, k)
	defer a.Stop()
	defer b.Stop()
	defer c.Stop()
	w := wheelFor(d, k)
	ta, tb, tc := recvTick(t, a), recvTick(t, b), recvTick(t, c)
	if !ta.Equal(tb) {
		t.Fatalf("two tickers of one slot ticked at different instants: %v and %v", ta, tb)
	}
	if ta.Sub(start) < d || tc.Sub(start) < d {
		t.Fatalf("first ticks %v and %v after the start, want ≥ %v", ta.Sub(start), tc.Sub(start), d)
	}
	off := func(at time.Time) time.Duration { return at.Sub(w.origin) % d }
	if off(ta) != d/k || off(tc) != 3*d/k {
		t.Fatalf("ticks at %v and %v into the period, want slots 1 and 3: %v and %v", off(ta), off(tc), d/k, 3*d/k)
	}
	if next := recvTick(t, a); off(next) != d/k || !next.After(ta) {
		t.Fatalf("second tick at %v (first %v), want the next instant of slot 1", next.Sub(ta), ta)
	}
	c.Stop()
	a.(pausable).Pause()
	b.(pausable).Pause()
	w.mu.Lock()
	n, next := w.n, w.next
	w.mu.Unlock()
	if n != 0 || next != -1 {
		t.Fatalf("every ticker paused or stopped: the wheel counts %d and is armed for %d, want 0 and none", n, next)
	}
	select {
	case at := <-b.C():
		t.Fatalf("a tick (%v) was left to receive after Pause", at)
	default:
	}
	resumed := time.Now()
	b.(pausable).Resume()
	if at := recvTick(t, b); at.Sub(resumed) < d || off(at) != d/k {
		t.Fatalf("after Resume the tick came %v later at %v into the period, want ≥ %v on slot 1", at.Sub(resumed), off(at), d)
	}
}

// recvTick waits for a tick; a wheel that never fires fails the test instead of hanging it.
func recvTick(t *testing.T, tk Ticker) time.Time {
	t.Helper()
	select {
	case at := <-tk.C():
		return at
	case <-time.After(10 * time.Second):
		t.Fatal("no tick within 10 s")
		return time.Time{}
	}
}
