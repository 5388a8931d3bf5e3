package loadgen

import (
	"math/rand/v2"
	"sort"
)

// sendEarly: an input due within this much is sent in the same wake-up.
const sendEarly = 500_000 // ns

// The send schedule of an epoll pool: the pool's clients in the order of their phase within
// the interval, and a cursor. Every client keeps its own period and phase (drawn once, as the
// gws senders do), so its rate is exactly one input per interval; the pool's thread wakes for
// the earliest due input and sends every input due by then (+ sendEarly) in one pass, instead
// of one timer per client or a scan of all clients per wake-up. Late (> lateAfter after its
// slot) and skipped (a whole period missed) sends are counted, as in sender.loop.

// prime gives every client a random phase, starts its first period at start and orders the
// clients by phase.
func (s *sender) prime(start, iv int64) {
	s.iv = iv
	for _, c := range s.clients {
		c.period = start
		c.phase = rand.Int64N(iv)
		c.due = c.period + c.phase
		c.pay = rand.IntN(len(payloads))
	}
	sort.SliceStable(s.clients, func(i, j int) bool { return s.clients[i].phase < s.clients[j].phase })
	s.cur = 0
}

// runDue sends, in phase order, every input due by now()+sendEarly, at most limit of them
// (the pool reads its sockets in between, so that a load generator behind its schedule does
// not leave the frames it receives waiting), and returns the time the next one is due. send
// writes c's input and returns the time it went out.
func (s *sender) runDue(now func() int64, send func(c *client) int64, limit int) int64 {
	n := len(s.clients)
	if n == 0 {
		return now() + s.iv
	}
	t := now()
	for range min(n, limit) {
		c := s.clients[s.cur]
		if c.due > t+sendEarly {
			return c.due
		}
		if behind := t - c.due; behind >= s.iv {
			missed := behind / s.iv
			s.skipped.Add(missed)
			c.period += missed * s.iv
			c.due += missed * s.iv
		}
		if ts := send(c); ts-c.due > int64(lateAfter) {
			s.late.Add(1)
		}
		c.period += s.iv
		c.due = c.period + c.phase
		s.cur++
		if s.cur == n {
			s.cur = 0
		}
		t = now()
	}
	return s.clients[s.cur].due
}
