package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/checkpoint"
)

// Graceful drain (issue 12): at shutdown every local match is handed to another live instance
// (the least loaded), which restores it in epoch + 1, instead of ending.
//
// One hand-off, owner A to target B:
//
//	A: Freeze (on the match goroutine: a checkpoint now, no tick after it), Put the checkpoint
//	   (epoch e), forget the lease (so A's heartbeat does not take it back) and Release it
//	A → B: kHandoff(match, e) on B's node channel, answered
//	B: Get the checkpoint (epoch e), Claim e + 1 (fenced), Put it under e + 1, Restore, answer
//	   with its address
//	A: moved(id, B's address): the server closes the match's local players with 4003 MOVED and
//	   that address; then the copy stops with END MOVED (its relayed players' instances follow B)
//
// When B does not confirm in time, A claims e + 1 itself (fenced: if that fails, somebody
// holds the match: it moved there) and leaves a tombstone, so nobody restores it later: the
// match then ends STOPPED with the registry's shutdown, as without a cluster, counted in
// tickrelay_handoffs_total{result="failed"} and logged. Hand-offs run in parallel (handoffParallel),
// each bounded by HandoffTimeout.

// handoffParallel is how many hand-offs a drain runs at once.
const handoffParallel = 16

// Drain implements server.Drainer.
func (b *Bus) Drain(ctx context.Context, moved func(matchID, address string)) {
	b.fo.draining.Store(true)
	select { // a heartbeat now says "draining": the others stop sending matches here
	case b.guard.wake <- struct{}{}:
	default:
	}
	if b.cfg.Checkpoints == nil {
		return
	}
	start := time.Now()
	targets := b.drainTargets(ctx)
	b.mu.Lock()
	ids := make([]string, 0, len(b.epochs))
	for id := range b.epochs {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if len(targets) == 0 {
		b.log.Warn("drain: no other live instance: the matches end STOPPED", "matches", len(ids))
		return
	}
	// Least loaded first: each match goes to the target with the fewest sessions counting the
	// players already sent to it.
	load := make([]float64, len(targets))
	for i, n := range targets {
		load[i] = float64(n.Sessions)
	}
	sem := make(chan struct{}, handoffParallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	okN, failN := 0, 0
	for _, id := range ids {
		m, ok := b.env.Registry.Get(id)
		if !ok {
			continue
		}
		best := 0
		for i := range targets {
			if load[i] < load[best] {
				best = i
			}
		}
		load[best] += float64(max(1, m.Info().Players))
		// The least loaded first, then the others in turn (one that is draining or gone
		// too refuses or does not answer).
		to := make([]NodeInfo, 0, len(targets))
		for i := range targets {
			to = append(to, targets[(best+i)%len(targets)])
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := b.handoff(ctx, m, to, moved)
			mu.Lock()
			defer mu.Unlock()
			if errors.Is(err, game.ErrNotRestorable) {
				return // a game without checkpoints: it ends STOPPED, as it always did
			}
			if err != nil {
				failN++
				b.fo.m.handoffs.WithLabelValues(handoffFailed).Inc()
				b.log.Warn("drain: hand-off failed, the match ends STOPPED", "match", m.ID(), "err", err)
				return
			}
			okN++
			b.fo.m.handoffs.WithLabelValues(handoffMoved).Inc()
		}()
	}
	wg.Wait()
	d := time.Since(start)
	b.fo.m.drain.Observe(d.Seconds())
	b.log.Info("drain: hand-offs done", "moved", okN, "failed", failN, "took", d.Round(time.Millisecond))
}

// drainTargets are the other live instances that can take matches.
func (b *Bus) drainTargets(ctx context.Context) []NodeInfo {
	lctx, cancel := context.WithTimeout(ctx, b.cfg.RPCTimeout)
	defer cancel()
	ns, err := b.cfg.Directory.Nodes(lctx)
	if err != nil {
		if cached := b.nodes.Load(); cached != nil {
			ns = *cached
		}
	}
	var out []NodeInfo
	for _, n := range ns {
		if n.Name != b.node && n.Address != "" && n.Health == "" {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// handoff moves m to the first of targets that takes it (see the file's comment); nil once
// one runs it.
func (b *Bus) handoff(ctx context.Context, m *game.Match, targets []NodeInfo, moved func(string, string)) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.HandoffTimeout)
	defer cancel()
	id := m.ID()
	b.mu.Lock()
	epoch, owned := b.epochs[id]
	b.mu.Unlock()
	if !owned {
		return errors.New("not announced here")
	}
	c, err := m.Freeze(ctx)
	if err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	if err := b.cfg.Checkpoints.Put(ctx, checkpoint.Record{Match: id, Game: c.Game, Epoch: c.Epoch, Tick: c.Tick, Taken: c.Taken, Data: c.Data}); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	// The lease goes: our heartbeat must not take it back, and the target claims epoch + 1.
	b.fo.refreshMu.Lock()
	b.mu.Lock()
	delete(b.epochs, id)
	b.mu.Unlock()
	err = b.cfg.Directory.Release(ctx, id, b.node, epoch)
	b.fo.refreshMu.Unlock()
	if err != nil {
		b.log.Warn("drain: release failed (the target's claim waits for the lease to expire)", "match", id, "err", err)
	}
	var addr string
	err = errors.New("no target")
	for _, to := range targets {
		if ctx.Err() != nil {
			break
		}
		if addr, err = b.askHandoff(ctx, to.Name, id, epoch); err == nil {
			break
		}
		b.log.Info("drain: hand-off refused, trying the next instance", "match", id, "to", to.Name, "err", err)
		lctx, lcancel := context.WithTimeout(context.Background(), b.cfg.RPCTimeout)
		cur, lerr := b.cfg.Directory.Lookup(lctx, id)
		lcancel()
		if lerr == nil && cur.Epoch > epoch && cur.Node != b.node {
			addr, err = cur.Address, nil // it took it after all (its answer was late)
			break
		}
	}
	if err != nil {
		// Not confirmed. Make sure nobody takes it later, unless somebody already has.
		fctx, fcancel := context.WithTimeout(context.Background(), b.cfg.RPCTimeout)
		defer fcancel()
		if where, ok := b.movedTo(fctx, id, epoch); ok {
			addr = where
		} else {
			// A tombstone over every epoch a claimer could try (claimEpoch skips fenced ones).
			_ = b.cfg.Checkpoints.Delete(fctx, id, epoch+1+maxFencedClaims)
			_ = b.cfg.Directory.Release(fctx, id, b.node, epoch+1)
			return err
		}
	}
	moved(id, addr)
	m.Stop(protocol.EndMoved)
	return nil
}

// askHandoff asks node to take match id from its checkpoint of epoch; it returns node's address.
func (b *Bus) askHandoff(ctx context.Context, node, id string, epoch uint32) (string, error) {
	a, err := b.call(ctx, node, wmsg{Kind: kHandoff, Match: id, A: epoch})
	if err != nil {
		return "", err
	}
	return a.Str, nil
}

// movedTo reports where match id (handed off from epoch) runs if some instance claimed it;
// when none did, it claims epoch + 1 for this node so that none can (false).
func (b *Bus) movedTo(ctx context.Context, id string, epoch uint32) (string, bool) {
	e := MatchEntry{ID: id, Node: b.node, Address: b.env.PublicURL, Epoch: epoch + 1, Info: game.Info{ID: id, Epoch: epoch + 1}}
	err := b.cfg.Directory.Claim(ctx, e)
	if err == nil {
		return "", false
	}
	if cur, lerr := b.cfg.Directory.Lookup(ctx, id); lerr == nil && cur.Epoch > epoch && cur.Node != b.node {
		return cur.Address, true
	}
	return "", false
}

// handleHandoff answers another instance's kHandoff: restore the match here from its
// checkpoint in a later epoch (off the receiver shard: it waits on Redis and the restore).
func (b *Bus) handleHandoff(q *wmsg) {
	q.Bin, q.To = nil, nil
	req := *q
	if !b.goTracked(func() {
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.HandoffTimeout)
		defer cancel()
		err := b.takeOver(ctx, req.Match, req.A)
		if err != nil {
			b.log.Warn("drain: hand-off refused", "match", req.Match, "from", req.Node, "err", err)
			b.answer(&req, err, nil)
			return
		}
		a := wmsg{Kind: kAnswer, RPC: req.RPC, Match: req.Match, Str: b.env.PublicURL}
		b.send(req.Match, b.names.Node(req.Node), appendWmsg(nil, &a))
	}) {
		b.answer(q, fmt.Errorf("%w: shutting down", server.ErrUnavailable), nil)
	}
}

// takeOver restores match id here from its checkpoint of epoch (a hand-off).
func (b *Bus) takeOver(ctx context.Context, id string, epoch uint32) error {
	if b.cfg.Checkpoints == nil {
		return fmt.Errorf("%w: no checkpoint store", server.ErrUnavailable)
	}
	if b.fo.draining.Load() {
		return fmt.Errorf("%w: this instance is draining too", server.ErrUnavailable)
	}
	if _, busy := b.fo.claiming.LoadOrStore(id, true); busy {
		return errClaiming
	}
	defer b.fo.claiming.Delete(id)
	rec, err := b.cfg.Checkpoints.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("%w: checkpoint: %v", server.ErrUnavailable, err)
	}
	if rec.Epoch != epoch {
		return fmt.Errorf("%w: the stored checkpoint is of epoch %d, not %d", server.ErrUnavailable, rec.Epoch, epoch)
	}
	_, err = b.restoreFrom(ctx, rec, epoch+1)
	return err
}

// restoreFrom claims rec's match at epoch (or later, over a dead claimer's fence), stores the
// checkpoint under it and restores the match here. Shared by the crash claim and the hand-off.
func (b *Bus) restoreFrom(ctx context.Context, rec checkpoint.Record, epoch uint32) (*game.Match, error) {
	id := rec.Match
	if _, ok := b.env.Registry.Catalog().Lookup(rec.Game); !ok {
		return nil, fmt.Errorf("%w: game %q is not served here", errNoCheckpoint, rec.Game)
	}
	epoch, err := b.claimEpoch(ctx, id, rec.Game, epoch)
	if err != nil {
		return nil, err
	}
	// The lease is ours. The checkpoint under our epoch first: the old owner's end can no
	// longer delete it, and if we die before our first checkpoint the next claimer has it.
	mine := rec
	mine.Epoch = epoch
	if err := b.cfg.Checkpoints.Put(ctx, mine); err != nil {
		b.log.Warn("failover: checkpoint not stored under the new epoch", "match", id, "epoch", epoch, "err", err)
	}
	m, err := b.env.Registry.Restore(rec.Data, epoch)
	if err != nil {
		b.fo.m.claims.WithLabelValues(claimFailed).Inc()
		b.log.Error("failover: restore failed", "match", id, "epoch", epoch, "err", err)
		rctx, cancel := context.WithTimeout(context.Background(), b.cfg.RPCTimeout)
		defer cancel()
		if !errors.Is(err, game.ErrClosed) && !errors.Is(err, game.ErrExists) {
			// It will not restore anywhere: a tombstone, so the others give it up at once.
			_ = b.cfg.Checkpoints.Delete(rctx, id, epoch)
		}
		_ = b.cfg.Directory.Release(rctx, id, b.node, epoch)
		return nil, fmt.Errorf("%w: restore: %v", errNoCheckpoint, err)
	}
	b.mu.Lock()
	b.epochs[id] = epoch
	b.mu.Unlock()
	_ = b.cfg.Directory.Claim(ctx, b.entry(m)) // our own lease again, with the match's info
	b.fo.m.claims.WithLabelValues(claimRestored).Inc()
	b.log.Info("failover: match restored here", "match", id, "epoch", epoch, "tick", rec.Tick,
		"checkpoint_age", time.Since(rec.Taken).Round(time.Millisecond))
	return m, nil
}
