package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// The relaying side of failover: an instance relaying a match to local players notices that
// its owner is gone (silent for 2×Liveness, missing from the node registry, or its copy said
// END MOVED), looks the match up, and follows the new owner (relocate: every local recipient
// is brought up to date by the new owner, a JOINED of the new epoch) or, when no lease is
// left, claims the match itself (failover.go) and moves its local recipients onto the restored
// local match (adopt). Only a match that cannot be restored ends with END LOST, as before.

// current reports whether a message of epoch may be handed on (mu held): an older epoch
// than the one followed is a stale owner's and is dropped; a newer one means the match moved
// (look it up at the next check).
func (rm *remoteMatch) current(epoch uint32) bool {
	if epoch < rm.floor {
		rm.b.fo.m.stale.Inc()
		return false
	}
	if epoch > rm.e.Epoch {
		rm.suspect = true
	}
	rm.lastMsg = time.Now()
	return true
}

// moved: the owner's copy of epoch stopped with END MOVED (mu held). Nothing more of that
// epoch is handed on; the next check looks for the new owner.
func (rm *remoteMatch) moved(epoch uint32) {
	if epoch >= rm.floor {
		rm.floor = epoch + 1
	}
	rm.suspect = true
	if rm.checkQueued.CompareAndSwap(false, true) { // look now, not at the next liveness tick
		rm.b.goTracked(func() {
			defer rm.checkQueued.Store(false)
			rm.check()
		})
	}
}

// check runs on the liveness loop: it asks again for what stays unanswered, and when the
// owner looks gone, finds where the match runs now.
func (rm *remoteMatch) check() {
	b := rm.b
	rm.mu.Lock()
	stale := false
	for _, r := range rm.sinks {
		if (r.state == stRepair || r.state == stSync || r.state == stAwaitJoined) && !r.asked.IsZero() &&
			time.Since(r.asked) > 2*b.cfg.Liveness {
			stale = true
		}
	}
	silent := len(rm.sinks) > 0 && time.Since(rm.lastMsg) > 2*b.cfg.Liveness
	suspect, e0 := rm.suspect, rm.e
	rm.mu.Unlock()
	dead := !b.alive(e0.Node)
	if !stale && !silent && !suspect && !dead {
		rm.setWaiting(false)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.RPCTimeout)
	defer cancel()
	e, err := b.cfg.Directory.Lookup(ctx, rm.id)
	switch {
	case err == nil && e.Epoch > e0.Epoch:
		rm.relocate(e)
		return
	case err == nil && e.Epoch == e0.Epoch && e.Node == e0.Node:
		// The directory still gives it to the owner we follow: its lease runs out by itself
		// (≤ LeaseTTL after its last refresh) if it is really gone.
		rm.setWaiting(false)
		return
	case err == nil:
		return // an older epoch than ours: the directory is catching up
	case !isNotFound(err):
		return // the directory is unreachable: keep trying
	}
	// No live lease. Right after Redis came back (perhaps without its data) that says nothing
	// yet: a live owner takes its lease back at its next refresh. Once settled, claim it (one
	// instance wins), or follow the winner.
	err = nil // the lookup's not-found
	if !b.settled() {
		err = errUnsettled
	} else if b.cfg.Checkpoints == nil {
		rm.lostWhy(dead)
		return
	}
	var m *game.Match
	if err == nil {
		m, err = b.claim(ctx, rm.id)
	}
	switch {
	case err == nil:
		rm.adopt(m)
		return
	case errors.Is(err, errNoCheckpoint):
		b.fo.m.claims.WithLabelValues(claimNoCheckpoint).Inc()
		rm.lostWhy(dead)
		return
	case errors.Is(err, ErrTaken), errors.Is(err, ErrFenced):
		if e, lerr := b.cfg.Directory.Lookup(ctx, rm.id); lerr == nil && e.Epoch > e0.Epoch {
			rm.relocate(e)
			return
		}
	}
	// Not settled, a claim in progress, Redis busy: wait, but not forever.
	if since := rm.setWaiting(true); time.Since(since) > b.cfg.FailoverWait {
		b.log.Warn("failover: no new owner in time", "match", rm.id, "waited", time.Since(since).Round(time.Millisecond), "err", err)
		rm.lostWhy(dead)
	}
}

func (rm *remoteMatch) lostWhy(dead bool) {
	if dead {
		rm.lost("the instance running the match was lost")
	} else {
		rm.lost("the match is no longer running")
	}
}

// setWaiting records whether a new owner is being waited for; it returns since when.
func (rm *remoteMatch) setWaiting(on bool) time.Time {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if !on {
		rm.waitSince = time.Time{}
	} else if rm.waitSince.IsZero() {
		rm.waitSince = time.Now()
	}
	return rm.waitSince
}

// relocate follows the match's new owner e: the channel stays (it is named after the match),
// its numbering starts again, and every local recipient asks the new owner for what it
// misses (a JOINED of the new epoch; a join in flight is asked again there).
func (rm *remoteMatch) relocate(e MatchEntry) {
	b := rm.b
	if e.Node == b.node {
		// It runs here now (claimed by a reconnecting player's Locate, or handed here).
		if m, ok := b.env.Registry.Get(rm.id); ok {
			rm.adopt(m)
		}
		return
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if e.Epoch <= rm.e.Epoch || rm.gone {
		return
	}
	from := rm.e
	rm.e, rm.floor, rm.haveSeq, rm.suspect, rm.lastMsg, rm.waitSince = e, e.Epoch, false, false, time.Now(), time.Time{}
	b.fo.follows.Store(rm.id, e)
	b.know(e.Node)
	for _, r := range rm.sinks {
		if rm.moveRemote(r) {
			continue // a member: it takes its seat back with a JOIN there
		}
		if r.state == stRepair || r.state == stLive {
			r.state = stLive
			b.m.repairs.Inc()
		}
		rm.ask(r)
	}
	b.fo.m.follows.Inc()
	b.log.Info("failover: following the match's new owner", "match", rm.id, "from", from.Node, "from_epoch", from.Epoch,
		"to", e.Node, "epoch", e.Epoch, "recipients", len(rm.sinks))
}

// adopt moves the local recipients of this relayed match onto m, the same match restored (or
// handed) here: members sync (a JOINED of the new epoch takes their seat back), spectators
// watch, joins in flight join. The relay is dropped; the sessions' handles find m locally.
func (rm *remoteMatch) adopt(m *game.Match) {
	b := rm.b
	rm.mu.Lock()
	rs := make([]*relayed, 0, len(rm.sinks))
	for _, r := range rm.sinks {
		rs = append(rs, r)
	}
	joins := make([]func(uint32, error), len(rs))
	for i, r := range rs {
		if r.state == stJoining {
			joins[i], r.done = r.done, nil
		}
		rm.forgetKeep(r)
	}
	if !rm.gone {
		rm.gone = true
		b.unlink(rm)
	}
	rm.mu.Unlock()
	for i, r := range rs {
		switch {
		case joins[i] != nil:
			done := joins[i]
			ctx, cancel := context.WithTimeout(context.Background(), b.cfg.JoinTimeout)
			err := m.JoinFunc(ctx, r.join.Str, r.join.Str2, r.join.Bin, r.sink, r.joinReq, func(pid uint32, err error) {
				cancel()
				done(pid, err)
			})
			if err != nil {
				cancel()
				done(0, err)
			}
		case r.state == stJoining:
		case r.spectator:
			if err := m.Watch(r.sink, r.joinReq); err != nil {
				r.sink.Deliver(protocol.ErrorFrame(server.CodeOf(err), err.Error(), protocol.OpJoin, r.joinReq), nil)
			}
		case rm.moveLocal(m, r): // a member: it takes its seat back with a JOIN
		default:
			req := r.req
			if r.state != stSync {
				req = uint32(b.nextID.Add(1)) | 1<<31
			}
			if err := m.Sync(r.pid, r.sink, req, r.epoch, r.tick); err != nil {
				r.sink.Deliver(protocol.ErrorFrame(server.CodeOf(err), err.Error(), protocol.OpSync, req), nil)
			}
		}
	}
	b.fo.m.follows.Inc()
	b.log.Info("failover: relayed players moved onto the match restored here", "match", rm.id, "recipients", len(rs))
}
