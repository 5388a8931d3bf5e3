package server

import (
	"sync"
	"time"
)

// tickWatch is the net under the tick reader (tickread.go): a parked read loop waits for its
// match, and a match that does not tick does not read. Matches with members do not sleep, but
// one can be frozen by a hand-off or held by a cluster owner unsure of its leases, and a
// session can park for a match that never calls it (a takeover whose SYNC it has not reached
// yet, a race with a change of match). The server's janitor calls scan every second: a parked
// reader whose match has not polled it for two rounds (1-2 s), or whose read deadline passed,
// is handed back to its read loop, which then reads from the netpoller as in loop mode until
// its next frame. Locking: mu guards set; mu before tickReader.mu.
type tickWatch struct {
	mu     sync.Mutex
	set    map[*tickReader]struct{}
	notify chan struct{} // tests: signalled (without blocking) on every park and wake-up
}

func (w *tickWatch) add(t *tickReader) {
	w.mu.Lock()
	if w.set == nil {
		w.set = map[*tickReader]struct{}{}
	}
	w.set[t] = struct{}{}
	w.signal()
	w.mu.Unlock()
}

func (w *tickWatch) signal() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *tickWatch) remove(t *tickReader) {
	w.mu.Lock()
	delete(w.set, t)
	w.signal()
	w.mu.Unlock()
}

// scan hands back the parked readers nobody polled for two rounds or whose deadline passed.
func (w *tickWatch) scan(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for t := range w.set {
		t.mu.Lock()
		if t.state == tickParked {
			switch {
			case t.deadlinePassed(now):
				t.handBack(t.carry, nil)
			case t.polled:
				t.polled, t.missed = false, 0
			default:
				t.missed++
				if t.missed >= 2 {
					t.handBack(t.carry, nil)
				}
			}
		}
		t.mu.Unlock()
	}
}

// parked is the number of parked tick readers (tests).
func (w *tickWatch) parked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.set)
}
