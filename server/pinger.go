package server

import (
	"sync"
	"time"

	"github.com/lxzan/gws"
)

// pingSlots is the number of buckets of the ping wheel.
const pingSlots = 16

// pinger pings every session once per PingInterval from ONE goroutine: a wheel of pingSlots
// buckets, one bucket pinged every PingInterval/pingSlots. A timer per session (time.AfterFunc)
// cost a timer and a goroutine started per ping, spread evenly over time: with 10,000 idle
// connections that is 1,000 separate wake-ups a second. The wheel makes 16 a PingInterval,
// each writing a bucket's pings back to back (and their pongs come back together).
//
// A session is pinged first between PingInterval×(1-1/16) and PingInterval after it opened,
// then every PingInterval. Locking: mu guards the buckets and every session's pingSlot; it is
// never held while pinging.
type pinger struct {
	every time.Duration

	mu    sync.Mutex
	slots [pingSlots]map[*session]struct{}
	pos   int // the bucket pinged next
	batch []*session
}

func newPinger(every time.Duration) *pinger {
	p := &pinger{every: every}
	for i := range p.slots {
		p.slots[i] = map[*session]struct{}{}
	}
	return p
}

// add puts s in the bucket pinged last: its first ping comes one full turn from now.
func (p *pinger) add(s *session) {
	p.mu.Lock()
	slot := (p.pos + pingSlots - 1) % pingSlots
	p.slots[slot][s] = struct{}{}
	s.pingSlot = slot
	p.mu.Unlock()
}

// remove takes s off the wheel (its connection is gone).
func (p *pinger) remove(s *session) {
	p.mu.Lock()
	if s.pingSlot >= 0 {
		delete(p.slots[s.pingSlot], s)
		s.pingSlot = -1
	}
	p.mu.Unlock()
}

// run turns the wheel until stop is closed.
func (p *pinger) run(stop <-chan struct{}) {
	t := time.NewTicker(max(p.every/pingSlots, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.turn()
		case <-stop:
			return
		}
	}
}

// turn pings the next bucket's sessions.
func (p *pinger) turn() {
	p.mu.Lock()
	p.batch = p.batch[:0]
	for s := range p.slots[p.pos] {
		p.batch = append(p.batch, s)
	}
	p.pos = (p.pos + 1) % pingSlots
	batch := p.batch
	p.mu.Unlock()
	now := time.Now().UnixNano()
	for i, s := range batch {
		s.pingNow(now)
		batch[i] = nil
	}
}

// pingNow queues a ping (through the writer: one socket writer at a time) unless the session
// is closing, and notes when, for the RTT its pong gives.
func (s *session) pingNow(now int64) {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return
	}
	s.pingAt.Store(now)
	s.w.control(gws.OpcodePing, nil)
}
