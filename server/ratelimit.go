package server

import (
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// Every client op, and every WebSocket ping, is paid for from the connection's budget: a
// token bucket (golang.org/x/time/rate) refilled at Config.InputRate tokens per second, holding
// at most Config.InputBurst. Most ops cost one token; the ones that verify a signature or take a
// server-wide lock cost Config.AuthOpCost (a JWT verification is ~28 µs, a hundred times an
// input's handling). What the budget cannot pay is dropped and counted, with one ERROR
// RATE_LIMITED per burst (answering the first message refused), and the connection is read more
// slowly for a moment (so a flood costs the server next to nothing); a connection that keeps
// going (Config.FloodClose refusals within floodWindow) is closed with CloseRateLimit.

// floodWindow is the window in which Config.FloodClose refusals close a connection.
const floodWindow = 5 * time.Second

// opCost is what op costs from the connection's budget.
func (s *session) opCost(m *protocol.ClientMsg) int {
	switch m.Op {
	case protocol.OpHello:
		if m.Token != "" {
			return s.srv.cfg.AuthOpCost // verifies a JWT
		}
	case protocol.OpJoin:
		if m.Ticket != "" {
			return s.srv.cfg.AuthOpCost // verifies a JWT and uses a single-use ticket
		}
		return 2 // looks the match up
	case protocol.OpResume:
		return s.srv.cfg.AuthOpCost // takes the session table's lock, compares a secret
	}
	return 1
}

// allow charges cost to the connection's budget; on the read loop only. op and ref name the
// message for the ERROR (op 0: a WebSocket ping, which gets no ERROR).
func (s *session) allow(cost int, op protocol.Op, ref uint32) bool {
	now := time.Now()
	if s.limiter.AllowN(now, min(cost, s.srv.cfg.InputBurst)) { // a cost above the bucket could never pass
		s.warned = false
		return true
	}
	s.srv.metrics.rateLimited.WithLabelValues(opName(op)).Inc()
	if now.Sub(s.floodFrom) > floodWindow {
		s.floodFrom, s.floodN = now, 0
	}
	s.floodN++
	if s.floodN >= s.srv.cfg.FloodClose {
		s.close(protocol.CloseRateLimit, "message flood")
		return false
	}
	// One ERROR per burst (until a message is allowed again), whatever the op: answering every
	// refused message would turn a flood into as many writes. A request refused in a burst that
	// was already told stays unanswered; clients time requests out.
	if !s.warned && op != 0 {
		s.warned = true
		s.sendError(protocol.ErrCodeRateLimited, "too many messages: the excess is dropped", op, ref)
	}
	// Then the connection's read loop waits a moment (maxPause, or until the budget could pay
	// again if sooner): a flooder is read at most 1/maxPause frames a second, so its flood costs
	// the server next to nothing and its own writes back up, while FloodClose refusals still
	// come quickly enough to close it. Only this connection waits; its match and everyone else
	// are unaffected.
	if wait := time.Duration((float64(cost) - s.limiter.TokensAt(now)) / float64(s.limiter.Limit()) * float64(time.Second)); wait > 0 {
		time.Sleep(min(wait, maxPause))
	}
	return false
}

// maxPause is the longest a rate-limited connection's read loop waits after a refusal.
const maxPause = 2 * time.Millisecond

// opNames are the ops' names from the protocol's table, for metric labels.
var opNames = func() map[protocol.Op]string {
	names := map[protocol.Op]string{0: "WS_PING"}
	for _, e := range protocol.Codes().Ops {
		names[protocol.Op(e.Value)] = e.Name
	}
	return names
}()

// opName is op's name ("WS_PING" for 0, a WebSocket ping).
func opName(op protocol.Op) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return "UNKNOWN"
}
