package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// remoteMatch is this instance's side of a match owned elsewhere: the subscription to the
// match's channel and the local sinks (sessions, SSE streams) relayed to it.
//
// The receiver checks the channel's sequence numbers (a gap: something was lost, every local
// recipient is repaired through the owner) and, per recipient, the delta chain: a delta is
// handed to a sink only when its (epoch, tick - since) is the sink's last state, so a sink
// never gets a delta on the wrong base; anything else repairs that recipient (a SYNC on its
// behalf: the owner answers with the deltas it missed from its ring, else a snapshot).
//
// Goroutines: the match's receiver shard handles its messages; sessions call the handle's
// methods; the liveness loop checks the owner. mu guards everything below it; sinks are called
// with mu held (their Deliver and Detached never block and never call back into the relay).
type remoteMatch struct {
	b       *Bus
	id      string
	channel string
	e       MatchEntry

	mu      sync.Mutex
	seq     uint64
	haveSeq bool
	sinks   map[uint64]*relayed
	bySink  map[game.Sink]*relayed
	gone    bool

	// Failover (failover_relay.go): messages of an epoch below floor are a stale owner's and
	// dropped; lastMsg is when the channel last said anything (a silent owner is suspect);
	// suspect is set when the owner said MOVED or a newer epoch showed up; waitSince is when
	// the lease was first found gone without a new owner.
	floor       uint32
	lastMsg     time.Time
	suspect     bool
	waitSince   time.Time
	checkQueued atomic.Bool // a check started by moved is under way
}

type relayState uint8

const (
	stJoining     relayState = iota + 1 // JOIN sent, no answer yet
	stAwaitJoined                       // answered (or watching): JOINED comes next
	stLive                              // following the delta chain
	stRepair                            // we asked the owner to bring it up to date (the CATCHUP is ours)
	stSync                              // its client asked (SYNC, RESUME): the CATCHUP is the client's
)

// relayed is one local recipient of a remote match.
type relayed struct {
	id        uint64
	sink      game.Sink
	pid       uint32
	spectator bool
	state     relayState
	done      func(uint32, error) // stJoining: the JOIN's answer
	moving    bool                // stJoining: a member moved onto the match's new owner (failover_reseat.go)
	timer     *time.Timer
	join      wmsg // the JOIN request, sent again by a repair that finds it unanswered
	joinReq   uint32
	req       uint32 // the request a repair or sync is waiting on
	asked     time.Time
	epoch     uint32
	tick      uint32
}

// link returns the relay of remote match e, subscribing to its channel the first time.
func (b *Bus) link(ctx context.Context, e MatchEntry) (*remoteMatch, error) {
	ch := b.names.Match(e.ID)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: shutting down", server.ErrUnavailable)
	}
	rm := b.remotes[ch]
	if rm != nil && !rm.gone {
		b.mu.Unlock()
		return rm, nil
	}
	rm = &remoteMatch{b: b, id: e.ID, channel: ch, e: e, sinks: map[uint64]*relayed{}, bySink: map[game.Sink]*relayed{},
		floor: e.Epoch, lastMsg: time.Now()}
	b.remotes[ch] = rm
	b.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, b.cfg.RPCTimeout)
	defer cancel()
	if err := b.cfg.Broker.Subscribe(sctx, ch, b.onMessage(e.ID)); err != nil {
		b.unlink(rm)
		return nil, fmt.Errorf("%w: subscribe: %v", server.ErrUnavailable, err)
	}
	b.m.links.Inc()
	b.know(e.Node)
	return rm, nil
}

// unlink forgets rm and unsubscribes (when its last local recipient left).
func (b *Bus) unlink(rm *remoteMatch) {
	b.mu.Lock()
	if b.remotes[rm.channel] == rm {
		delete(b.remotes, rm.channel)
		b.fo.follows.Delete(rm.id)
	}
	b.mu.Unlock()
	b.goTracked(func() {
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.RPCTimeout)
		defer cancel()
		_ = b.cfg.Broker.Unsubscribe(ctx, rm.channel)
	})
	b.m.links.Dec()
}

// handleMatchMessage processes one message of a remote match's channel (its receiver shard).
func (b *Bus) handleMatchMessage(channel string, msg []byte) {
	b.mu.Lock()
	rm := b.remotes[channel]
	b.mu.Unlock()
	if rm == nil {
		return
	}
	k, err := peekKind(msg)
	if err != nil {
		b.m.bad.Inc()
		return
	}
	if k == kTick {
		var t tickMsg
		if err := decodeTick(msg, &t); err != nil {
			b.m.bad.Inc()
			return
		}
		rm.onTick(&t)
		return
	}
	var m wmsg
	if err := decodeWmsg(msg, &m); err != nil {
		b.m.bad.Inc()
		return
	}
	rm.onMessage(&m)
}

// sequence checks seq against the last one seen; a gap repairs every local recipient.
// Called with mu held.
func (rm *remoteMatch) sequence(seq uint64, beat bool) {
	expect := rm.seq + 1
	if beat {
		expect = rm.seq
	}
	if rm.haveSeq && seq != expect && seq > rm.seq {
		rm.b.m.gaps.Inc()
		for _, r := range rm.sinks {
			rm.repair(r)
		}
	}
	if seq > rm.seq || !rm.haveSeq {
		rm.seq, rm.haveSeq = seq, true
	}
}

func (rm *remoteMatch) onTick(t *tickMsg) {
	epoch, tick, since, ok := deltaHead(t.Shared)
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if !ok {
		rm.b.m.bad.Inc()
		return
	}
	if !rm.current(epoch) {
		return
	}
	rm.sequence(t.Seq, false)
	me := rm.b.node
	for _, wt := range t.Tails {
		if wt.Node != me {
			continue
		}
		r := rm.sinks[wt.Sink]
		if r == nil || r.state != stLive {
			continue
		}
		if epoch == r.epoch && tick <= r.tick {
			continue // a duplicate (a retried catch-up's): already applied
		}
		if epoch != r.epoch || since == 0 || tick-since != r.tick {
			rm.repair(r) // never a delta on the wrong base
			continue
		}
		r.tick = tick
		r.sink.Deliver(t.Shared, wt.Tail)
	}
}

func (rm *remoteMatch) onMessage(m *wmsg) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if m.C != 0 && !rm.current(m.C) { // 0: not from an owner (a refusal)
		return
	}
	rm.sequence(m.Seq, m.Kind == kBeat)
	if m.Kind == kBeat || m.Node != rm.b.node {
		return
	}
	r := rm.sinks[m.Sink]
	if r == nil {
		return
	}
	switch m.Kind {
	case kJoinAns:
		if r.state != stJoining {
			return
		}
		r.timer.Stop()
		done := r.done
		r.done = nil
		if m.Code != 0 {
			rm.forget(r)
			done(0, &server.CodeError{Code: protocol.ErrorCode(m.Code), Msg: m.Str})
			return
		}
		r.pid, r.state = m.PID, stAwaitJoined
		done(m.PID, nil) // before the JOINED, which follows on this channel
	case kFrame:
		rm.frame(r, m.Bin)
	case kDetach:
		rm.forget(r)
		r.sink.Detached(rm.id, m.PID, protocol.LeaveReason(m.A))
	}
}

// frame hands a frame addressed to r over, keeping r's view of the stream.
func (rm *remoteMatch) frame(r *relayed, f []byte) {
	if epoch, tick, since, ok := deltaHead(f); ok {
		if epoch == r.epoch && tick <= r.tick {
			return // a duplicate (a retried catch-up's): already applied
		}
		if r.state != stLive || epoch != r.epoch || since == 0 || tick-since != r.tick {
			if r.state == stLive {
				rm.repair(r)
			}
			return
		}
		r.tick = tick
		r.sink.Deliver(f, nil)
		return
	}
	var msg protocol.ServerMsg
	if err := protocol.DecodeServer(f, &msg); err != nil {
		rm.b.m.bad.Inc()
		return
	}
	if msg.Op == protocol.OpEnd && msg.Reason == protocol.EndMoved {
		rm.moved(msg.Epoch) // the owner's copy stopped: the match goes on elsewhere, follow it
		return
	}
	switch msg.Op {
	case protocol.OpJoined:
		if r.state == stJoining { // the answer was lost, the JOINED was not
			r.timer.Stop()
			if done := r.done; done != nil {
				r.done = nil
				done(msg.PID, nil)
			}
		}
		r.pid, r.epoch, r.tick, r.state = msg.PID, msg.Epoch, msg.Tick, stLive
	case protocol.OpCatchup:
		if r.state == stLive && msg.Req == r.req && msg.Epoch == r.epoch {
			return // a second answer to a request asked twice: the first one was applied
		}
		ours := r.state == stRepair && msg.Req == r.req
		r.epoch, r.tick, r.state = msg.Epoch, msg.Tick, stLive
		if ours {
			return // a repair of ours: the client's stream just goes on
		}
	case protocol.OpError:
		if was := r.state; was == stRepair || was == stSync {
			// The owner could not sync now (its inbox was full): ask again at the next check.
			r.asked = time.Now().Add(-time.Hour)
			if was == stRepair {
				return
			}
		}
	}
	r.sink.Deliver(f, nil)
}

// repair asks the owner to bring r up to date (called with mu held).
func (rm *remoteMatch) repair(r *relayed) {
	if r.state == stRepair || r.state == stSync {
		return
	}
	rm.b.m.repairs.Inc()
	rm.ask(r)
}

// ask sends the request that brings r up to date, for its state.
func (rm *remoteMatch) ask(r *relayed) {
	r.asked = time.Now()
	switch {
	case r.state == stJoining:
		rm.b.request(rm.e.Node, r.join) // idempotent on the owner: the same user gets its seat
		return
	case r.spectator:
		r.state = stAwaitJoined
		rm.b.request(rm.e.Node, wmsg{Kind: kWatch, Match: rm.id, Sink: r.id, A: r.joinReq})
		return
	case r.state == stSync: // the client's own SYNC or RESUME: the same request again
	case r.state == stAwaitJoined:
		// The JOINED was lost: a SYNC from nothing is answered with a JOINED (answering the
		// client's JOIN request).
		r.epoch, r.tick, r.req = 0, 0, r.joinReq
	default:
		r.req = uint32(rm.b.nextID.Add(1)) | 1<<31 // never a client's small request number
		r.state = stRepair
	}
	rm.b.request(rm.e.Node, wmsg{Kind: kSync, Match: rm.id, Sink: r.id, PID: r.pid, A: r.req, B: r.epoch, C: r.tick})
}

// expireJoin fails r's JOIN with TIMEOUT when it is still unanswered after JoinTimeout (mu held).
func (rm *remoteMatch) expireJoin(r *relayed) {
	r.timer = time.AfterFunc(rm.b.cfg.JoinTimeout, func() {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		if r.state != stJoining || r.done == nil {
			return
		}
		d := r.done
		r.done = nil
		rm.forget(r)
		d(0, fmt.Errorf("%w: %s did not answer the join", server.ErrTimeout, rm.e.Node))
	})
}

// forget removes r (mu held); the last one out unlinks the match.
func (rm *remoteMatch) forget(r *relayed) {
	if rm.sinks[r.id] != r {
		return
	}
	delete(rm.sinks, r.id)
	if rm.bySink[r.sink] == r {
		delete(rm.bySink, r.sink)
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	if len(rm.sinks) == 0 && !rm.gone {
		rm.gone = true
		rm.b.unlink(rm)
	}
}

// retry asks again for the repairs, syncs and snapshots unanswered for RepairRetry (their
// request or its answer was lost: Pub/Sub is at-most-once).
func (rm *remoteMatch) retry() {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for _, r := range rm.sinks {
		if (r.state == stRepair || r.state == stSync || r.state == stAwaitJoined || r.state == stJoining && r.moving) &&
			!r.asked.IsZero() && time.Since(r.asked) > rm.b.cfg.RepairRetry {
			rm.b.m.retries.Inc()
			rm.ask(r)
		}
	}
}

// lost ends the match for every local recipient: END with reason LOST, then Detached.
func (rm *remoteMatch) lost(why string) {
	rm.mu.Lock()
	rs := make([]*relayed, 0, len(rm.sinks))
	for _, r := range rm.sinks {
		rs = append(rs, r)
	}
	for _, r := range rs {
		rm.forget(r)
		if r.state == stJoining {
			if done := r.done; done != nil {
				r.done = nil
				done(0, fmt.Errorf("%w: %s", server.ErrUnavailable, why))
			}
			continue
		}
		r.sink.Deliver(protocol.AppendServer(nil, &protocol.ServerMsg{Op: protocol.OpEnd, Epoch: r.epoch, Tick: r.tick,
			Reason: protocol.EndLost, Result: protocol.AppendString(nil, why)}), nil)
		r.sink.Detached(rm.id, r.pid, protocol.LeaveEnded)
	}
	if !rm.gone {
		rm.gone = true
		rm.b.unlink(rm)
	}
	rm.mu.Unlock()
	if len(rs) > 0 {
		rm.b.m.lost.Inc()
		rm.b.log.Warn("cluster: relayed match lost", "match", rm.id, "owner", rm.e.Node, "why", why)
	}
}

// repairAll repairs every relayed recipient (the broker reconnected: messages were lost).
func (b *Bus) repairAll() {
	b.mu.Lock()
	rms := make([]*remoteMatch, 0, len(b.remotes))
	for _, rm := range b.remotes {
		rms = append(rms, rm)
	}
	b.mu.Unlock()
	for _, rm := range rms {
		rm.mu.Lock()
		rm.haveSeq = false
		for _, r := range rm.sinks {
			rm.repair(r)
		}
		rm.mu.Unlock()
	}
}

// add registers a new local recipient (mu held).
func (rm *remoteMatch) add(r *relayed) {
	r.id = rm.b.nextID.Add(1)
	if old := rm.bySink[r.sink]; old != nil {
		rm.forgetKeep(old)
	}
	rm.sinks[r.id] = r
	rm.bySink[r.sink] = r
}

// forgetKeep removes r without unlinking (it is being replaced).
func (rm *remoteMatch) forgetKeep(r *relayed) {
	delete(rm.sinks, r.id)
	delete(rm.bySink, r.sink)
	if r.timer != nil {
		r.timer.Stop()
	}
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
