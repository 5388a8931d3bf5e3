package loadgen

import (
	"testing"
	"time"
)

// A fake clock and a sender whose sends only record their time.
type wheelRig struct {
	t     int64
	s     *sender
	sent  map[*client][]int64
	delay int64 // each send takes this long
}

func newWheelRig(n int, iv time.Duration) *wheelRig {
	cfg := Defaults()
	cfg.Interval = iv
	r := newRun(&cfg)
	w := &wheelRig{s: &sender{r: r}, sent: map[*client][]int64{}}
	for i := range n {
		w.s.clients = append(w.s.clients, &client{r: r, id: i})
	}
	w.s.prime(0, int64(iv))
	return w
}

func (w *wheelRig) now() int64 { return w.t }

func (w *wheelRig) send(c *client) int64 {
	w.t += w.delay
	w.sent[c] = append(w.sent[c], w.t)
	return w.t
}

// runUntil drives the wheel like the pool's loop: wake at the next due time (or after step
// when that is sooner, as socket events would), send what is due.
func (w *wheelRig) runUntil(end, step int64) {
	for w.t < end {
		next := w.s.runDue(w.now, w.send, 64)
		if next > w.t+step {
			next = w.t + step
		}
		w.t = max(next, w.t+1)
	}
}

func TestWheelKeepsEachClientsRateAndPhase(t *testing.T) {
	iv := 50 * time.Millisecond
	w := newWheelRig(500, iv)
	periods := int64(40)
	w.runUntil(periods*int64(iv), int64(3*time.Millisecond))
	if l, s := w.s.late.Load(), w.s.skipped.Load(); l != 0 || s != 0 {
		t.Fatalf("an idle wheel counted late %d skipped %d", l, s)
	}
	for _, c := range w.s.clients {
		ts := w.sent[c]
		if int64(len(ts)) < periods-1 || int64(len(ts)) > periods+1 {
			t.Fatalf("client %d: %d sends in %d periods", c.id, len(ts), periods)
		}
		for k, at := range ts {
			due := int64(k)*int64(iv) + c.phase
			if at < due-sendEarly || at > due+int64(time.Millisecond) {
				t.Fatalf("client %d send %d at %d, due %d (phase %d)", c.id, k, at, due, c.phase)
			}
		}
	}
	// the phases are spread over the interval, not bunched
	var first, last int64 = int64(iv), 0
	for _, c := range w.s.clients {
		first, last = min(first, c.phase), max(last, c.phase)
	}
	if first > int64(5*time.Millisecond) || last < int64(45*time.Millisecond) {
		t.Fatalf("phases in [%d, %d]", first, last)
	}
}

func TestWheelCountsLateAndSkippedSends(t *testing.T) {
	iv := 50 * time.Millisecond
	n := 200
	w := newWheelRig(n, iv)
	w.runUntil(int64(4*iv), int64(time.Millisecond))
	before := map[*client]int{}
	for _, c := range w.s.clients {
		before[c] = len(w.sent[c])
	}
	// the load generator stalls for 3.5 intervals: every client misses 3 or 4 whole periods
	// minus the one it sends late when the wheel runs again
	w.t += int64(175 * time.Millisecond)
	w.runUntil(int64(12*iv), int64(time.Millisecond))
	sk, late := w.s.skipped.Load(), w.s.late.Load()
	if sk < int64(2*n) || sk > int64(4*n) {
		t.Fatalf("skipped %d for %d clients stalled 3.5 intervals", sk, n)
	}
	if late < int64(n/2) {
		t.Fatalf("late %d: the sends right after the stall are late", late)
	}
	// skipped periods are not sent later: every client sent one input per period it did not skip
	for _, c := range w.s.clients {
		got := len(w.sent[c]) - before[c]
		if got < 4 || got > 6 {
			t.Fatalf("client %d sent %d inputs in the 8 periods after the stall (skips not dropped?)", c.id, got)
		}
	}
	// a slow sender (each write 200 µs, 200 clients: 40 ms per 50 ms round) falls behind
	// within a round but keeps the rate
	w2 := newWheelRig(n, iv)
	w2.delay = int64(200 * time.Microsecond)
	w2.runUntil(int64(20*iv), int64(time.Millisecond))
	if w2.s.skipped.Load() != 0 {
		t.Fatalf("skipped %d at 80%% of the send budget", w2.s.skipped.Load())
	}
	for _, c := range w2.s.clients {
		if k := len(w2.sent[c]); k < 19 || k > 21 {
			t.Fatalf("slow sender: client %d sent %d in 20 periods", c.id, k)
		}
	}
}
