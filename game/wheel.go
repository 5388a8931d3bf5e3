package game

import (
	"sync"
	"time"
)

// Tick slots. A timer of its own per match costs an OS thread wake-up per tick per match (a
// thousand a second at 50 matches × 20 Hz), each one on a VM far dearer than the tick's own
// work. Instead the interval has a few slots (RegistryConfig.TickSlots), every match ticks on
// one of them, and under RealClock one timer per slot instant serves all the matches of that
// slot: one wake-up per slot instant, whatever the number of matches. The slots keep what the
// old per-match stagger was for (not every match's writes at the same instant): new matches
// go to the least loaded slot.
//
// The grid: slot s of K per period d is the instants origin + s·d/K + k·d. Under ManualClock
// (or any clock that is not RealClock) a match keeps a ticker of its own whose phase puts its
// ticks on the same grid (origin: the Unix epoch), so tests step matches tick by tick as
// before.

// slotClock is implemented by clocks that serve many tickers of one slot from one timer.
type slotClock interface {
	// NewSlotTicker returns a ticker on slot `slot` of `slots` per period d: its ticks fall
	// on the slot's grid instants, the first at least d from now (as NewTicker's first tick
	// comes after phase+d). Like a time.Ticker, a slow receiver misses ticks.
	NewSlotTicker(d time.Duration, slot, slots int) Ticker
}

// slotPhase is the phase for Clock.NewTicker that puts a ticker created at now on slot s of
// k per period d (the grid of the Unix epoch).
func slotPhase(now time.Time, d time.Duration, s, k int) time.Duration {
	off := time.Duration(s) * d / time.Duration(k)
	return ((off-time.Duration(now.UnixNano()%int64(d)))%d + d) % d
}

// NewSlotTicker implements slotClock with the process's wheel for (d, slots).
func (RealClock) NewSlotTicker(d time.Duration, slot, slots int) Ticker {
	w := wheelFor(d, slots)
	t := &wheelTicker{w: w, slot: slot % slots, c: make(chan time.Time, 1)}
	w.add(t)
	return t
}

type wheelKey struct {
	d     time.Duration
	slots int
}

// wheels are the process's tick wheels, one per (period, slots): every registry of the
// process (there may be several, e.g. in tests) shares them. A wheel with no ticker has no
// timer armed and no goroutine.
var wheels = struct {
	sync.Mutex
	m map[wheelKey]*wheel
}{m: map[wheelKey]*wheel{}}

func wheelFor(d time.Duration, slots int) *wheel {
	wheels.Lock()
	defer wheels.Unlock()
	k := wheelKey{d, slots}
	w := wheels.m[k]
	if w == nil {
		w = &wheel{d: d, slots: int64(slots), origin: time.Now(), subs: make([][]*wheelTicker, slots), next: -1, last: -1}
		wheels.m[k] = w
	}
	return w
}

// wheel is one timer for all the running tickers of a period: it is armed for the next slot
// instant that has a ticker due, and at that instant sends the tick to each of them. Slot
// instant i (a count from origin) is on slot i mod slots.
type wheel struct {
	d      time.Duration
	slots  int64
	origin time.Time // monotonic

	mu    sync.Mutex
	subs  [][]*wheelTicker // running tickers per slot
	n     int              // running tickers in all
	timer *time.Timer      // AfterFunc(fire); armed while n > 0
	next  int64            // the instant the timer is armed for; -1: none
	last  int64            // the last instant delivered
}

// at is the time of slot instant i.
func (w *wheel) at(i int64) time.Time {
	return w.origin.Add(time.Duration(i/w.slots)*w.d + time.Duration(i%w.slots)*w.d/time.Duration(w.slots))
}

// index is the last slot instant at or before t.
func (w *wheel) index(t time.Time) int64 {
	el := t.Sub(w.origin)
	if el < 0 {
		return -1
	}
	d := int64(w.d)
	return int64(el)/d*w.slots + int64(el)%d*w.slots/d
}

// firstOn is the first instant on slot s at or after t.
func (w *wheel) firstOn(s int64, t time.Time) int64 {
	i := w.index(t)
	if i < 0 || w.at(i).Before(t) {
		i++
	}
	return i + ((s-i%w.slots)+w.slots)%w.slots
}

type wheelTicker struct {
	w    *wheel
	slot int
	c    chan time.Time

	// guarded by w.mu
	running bool
	from    int64 // the first instant it takes (its first tick at least a period after it started)
}

func (t *wheelTicker) C() <-chan time.Time { return t.c }

// Stop ends the ticks; no tick is received after Stop returns.
func (t *wheelTicker) Stop() { t.w.remove(t) }

// Pause stops the ticks (a sleeping match): its slot's timer no longer counts it.
func (t *wheelTicker) Pause() { t.w.remove(t) }

// Resume restarts a paused ticker: its next tick is its slot's first instant a period from now.
func (t *wheelTicker) Resume() { t.w.add(t) }

func (w *wheel) add(t *wheelTicker) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.running {
		return
	}
	t.running = true
	t.from = w.firstOn(int64(t.slot), time.Now().Add(w.d))
	w.subs[t.slot] = append(w.subs[t.slot], t)
	w.n++
	if w.next < 0 || t.from < w.next {
		w.arm(t.from)
	}
}

func (w *wheel) remove(t *wheelTicker) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !t.running {
		return
	}
	t.running = false
	s := w.subs[t.slot]
	for i, x := range s {
		if x == t {
			s[i] = s[len(s)-1]
			s[len(s)-1] = nil
			w.subs[t.slot] = s[:len(s)-1]
			break
		}
	}
	w.n--
	select { // a tick sent before it stopped is not received after
	case <-t.c:
	default:
	}
	if w.n == 0 && w.timer != nil {
		w.timer.Stop()
		w.next = -1
	}
}

// arm sets the timer for instant i (w.mu held).
func (w *wheel) arm(i int64) {
	w.next = i
	d := time.Until(w.at(i))
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
		return
	}
	w.timer.Reset(d)
}

// fire runs at a slot instant (in a goroutine of its own, time.AfterFunc's): it sends the tick
// to every ticker of each slot instant due since the last one (each at most once: a wheel
// that ran late skips instants like a time.Ticker does), then arms the timer for the next.
func (w *wheel) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if w.next < 0 || now.Before(w.at(w.next)) {
		return // stale: re-armed or stopped while this run waited for the lock
	}
	cur := w.index(now)
	first := max(w.last+1, cur-w.slots+1)
	for i := first; i <= cur; i++ {
		at := w.at(i)
		for _, t := range w.subs[i%w.slots] {
			if i < t.from {
				continue
			}
			select {
			case t.c <- at:
			default: // the match is still busy with an earlier tick: this one is skipped
			}
		}
	}
	w.last = cur
	// The next instant some ticker takes: per slot, the first one after cur it accepts.
	next := int64(-1)
	for s, subs := range w.subs {
		if len(subs) == 0 {
			continue
		}
		base := cur + 1 + ((int64(s)-(cur+1)%w.slots)+w.slots)%w.slots
		for _, t := range subs {
			c := max(base, t.from)
			if next < 0 || c < next {
				next = c
			}
		}
	}
	if next < 0 {
		w.next = -1
		return
	}
	w.arm(next)
}
