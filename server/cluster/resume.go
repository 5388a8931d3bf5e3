package cluster

import (
	"context"
	"fmt"

	"github.com/tickrelay/tickrelay/server"
)

// TakeSession asks every other live instance for session id (a RESUME here of a session
// dropped from one of them); the one that has it hands over its seat. Resume tokens are
// single-use on the instance that issued them, so at most one can answer yes.
func (b *Bus) TakeSession(ctx context.Context, id, token, user string) (server.SessionSeat, error) {
	ns := b.nodes.Load()
	if ns == nil {
		return server.SessionSeat{}, server.ErrResume
	}
	type result struct {
		seat server.SessionSeat
		ok   bool
	}
	results := make(chan result, len(*ns))
	asked := 0
	for _, n := range *ns {
		if n.Name == b.node {
			continue
		}
		asked++
		node := n.Name
		if !b.goTracked(func() {
			a, err := b.call(ctx, node, wmsg{Kind: kTake, Match: id, Str: id, Str2: token, Bin: []byte(user)})
			results <- result{seat: server.SessionSeat{MatchID: a.Str, PID: a.PID}, ok: err == nil}
		}) {
			results <- result{}
		}
	}
	for i := 0; i < asked; i++ {
		if r := <-results; r.ok {
			return r.seat, nil
		}
	}
	return server.SessionSeat{}, fmt.Errorf("%w: no instance has session %q", server.ErrResume, id)
}

// handleTake answers another instance's TakeSession.
func (b *Bus) handleTake(q *wmsg) {
	if b.env.TakeSession == nil {
		b.answer(q, server.ErrResume, nil)
		return
	}
	seat, ok := b.env.TakeSession(q.Str, q.Str2, string(q.Bin))
	if !ok {
		b.answer(q, server.ErrResume, nil)
		return
	}
	a := wmsg{Kind: kAnswer, RPC: q.RPC, Match: q.Match, Str: seat.MatchID, PID: seat.PID}
	b.send(q.Match, b.names.Node(q.Node), appendWmsg(nil, &a))
}
