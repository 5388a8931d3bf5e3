package cluster

import (
	"context"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// Moving a relayed member onto its match's new copy (restored from a checkpoint, or handed
// over at a drain): the member takes its seat back with a JOIN as its user, not a SYNC of its
// pid. The checkpoint may predate the member's join (the restored match has no seat for it),
// and a pid names a seat only within one copy (a restored match may give the pid again), while
// a JOIN by user is answered in every case, atomically on the match goroutine:
//
//   - the match has the user's seat (the usual case): it is taken back, JOINED of the new epoch;
//   - no seat, but one is free and the game admits the player: a new seat, JOINED (new pid);
//   - no seat left (full, the game refuses, the match ended, the join timed out): END LOST
//     (the match is lost for this player), and the session is in no match.
//
// The session learns its (possibly new) pid from server.Reseater.Reseat before the JOINED
// reaches it. A session that left meanwhile gives the new seat back (LEFT); one whose
// connection closed meanwhile keeps it dropped, for its RESUME. Sinks that are not
// Reseaters (none in the server today) are synced by pid as before.

// Outcomes counted in tickrelay_failover_moves_total.
const (
	moveSeated = "seated" // the moved member holds a seat in the new copy (its own, or a new one)
	moveLost   = "lost"   // no seat for it: END LOST
)

// move is one member being moved: its seat (match, pid) before and the stream point it had.
type move struct {
	b           *Bus
	id          string
	rs          server.Reseater
	from        uint32
	epoch, tick uint32
}

// moveReq is the request number the move's JOINED answers: the client's pending SYNC or
// RESUME, the JOIN whose JOINED it still waits for, else one of the bus's own.
func (rm *remoteMatch) moveReq(r *relayed) uint32 {
	switch r.state {
	case stSync:
		return r.req
	case stAwaitJoined:
		return r.joinReq
	}
	return uint32(rm.b.nextID.Add(1)) | 1<<31
}

// joinAs is the JOIN that takes r's seat back: as the session's user, with the meta of the
// JOIN the relay saw (none when the session came here by RESUME).
func joinAs(id string, r *relayed, rs server.Reseater, req uint32) wmsg {
	user, name := rs.Player()
	j := wmsg{Kind: kJoin, Match: id, Sink: r.id, Str: user, Str2: name, A: req}
	if r.join.Kind == kJoin && r.join.Str == user {
		j.Bin = r.join.Bin
	}
	return j
}

// moveLocal moves member r onto m, the match now running here (adopt; no lock held). It
// reports false when r's sink cannot be reseated (the caller syncs it by pid).
func (rm *remoteMatch) moveLocal(m *game.Match, r *relayed) bool {
	rs, ok := r.sink.(server.Reseater)
	if !ok {
		return false
	}
	if held, _ := rs.Reseat(rm.id, r.pid, r.pid); !held {
		return true // it left (or joined another match) meanwhile: nothing to move
	}
	b := rm.b
	mv := &move{b: b, id: rm.id, rs: rs, from: r.pid, epoch: r.epoch, tick: r.tick}
	j := joinAs(rm.id, r, rs, rm.moveReq(r))
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.JoinTimeout)
	err := m.JoinFunc(ctx, j.Str, j.Str2, j.Bin, rs, j.A, func(pid uint32, err error) {
		cancel()
		mv.done(pid, err)
	})
	if err != nil {
		cancel()
		mv.done(0, err)
	}
	return true
}

// moveRemote turns member r into a JOIN of the match's new owner (relocate; mu held). It
// reports false when r is not a member to move that way (the caller asks as before).
func (rm *remoteMatch) moveRemote(r *relayed) bool {
	rs, ok := r.sink.(server.Reseater)
	if !ok || r.spectator || r.state == stJoining {
		return false
	}
	if held, _ := rs.Reseat(rm.id, r.pid, r.pid); !held {
		rm.forget(r) // it left meanwhile
		return true
	}
	b := rm.b
	mv := &move{b: b, id: rm.id, rs: rs, from: r.pid, epoch: r.epoch, tick: r.tick}
	req := rm.moveReq(r)
	r.join, r.joinReq, r.state, r.moving = joinAs(rm.id, r, rs, req), req, stJoining, true
	r.done = mv.done
	if r.timer != nil {
		r.timer.Stop()
	}
	rm.expireJoin(r)
	rm.ask(r) // sends r.join to the new owner
	return true
}

// done is the move's JOIN answer. It may run on the match goroutine or with the relay's mu
// held: it only talks to the session (its Reseat and Deliver never block) and gives a seat
// back from another goroutine.
func (mv *move) done(pid uint32, err error) {
	b := mv.b
	if err != nil {
		if held, _ := mv.rs.Reseat(mv.id, mv.from, 0); held {
			b.fo.m.moves.WithLabelValues(moveLost).Inc()
			mv.rs.Deliver(protocol.AppendServer(nil, &protocol.ServerMsg{Op: protocol.OpEnd, Epoch: mv.epoch, Tick: mv.tick,
				Reason: protocol.EndLost, Result: protocol.AppendString(nil, "no seat for you in the match restored elsewhere")}), nil)
			b.log.Warn("failover: moved player has no seat in the match's new copy: END LOST", "match", mv.id, "pid", mv.from, "err", err)
		}
		return
	}
	held, gone := mv.rs.Reseat(mv.id, mv.from, pid)
	if !held { // it left meanwhile: the seat is not its any more
		b.goTracked(func() { mv.leave(pid, protocol.LeaveLeft) })
		return
	}
	b.fo.m.moves.WithLabelValues(moveSeated).Inc()
	if gone { // its connection closed meanwhile: the seat waits for its RESUME
		b.goTracked(func() { mv.leave(pid, protocol.LeaveDropped) })
	}
	if pid != mv.from {
		b.log.Info("failover: moved player took a new seat (the checkpoint predates its join)", "match", mv.id, "pid", mv.from, "new_pid", pid)
	}
}

// leave gives seat pid of the match's new copy back as the session would (here or through the
// relay to wherever the match runs now).
func (mv *move) leave(pid uint32, reason protocol.LeaveReason) {
	h := &remoteHandle{b: mv.b, e: MatchEntry{ID: mv.id}}
	_ = h.Leave(context.Background(), pid, mv.rs, reason)
}
