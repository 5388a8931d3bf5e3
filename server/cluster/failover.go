package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/checkpoint"
)

// Failover (issue 12): a match whose owner's lease is gone is claimed by exactly one other
// instance and restored there from its last checkpoint in epoch + 1.
//
// Who claims: any instance that needs the match and finds no live lease for it: an instance
// relaying it to local players (remoteMatch.check, when the owner went silent, was judged dead
// or said MOVED) and an instance where a player of the match reconnects (Locate). Several may
// race: the directory's fence lets exactly one Claim epoch + 1 (never two owners); the others
// get ErrTaken or ErrFenced, look the match up again and follow the winner. The claim comes
// before the restore, so a loser never runs a copy, and the winner stores the checkpoint under
// its own epoch before restoring it, so that the stale owner's end (a tombstone of its epoch)
// cannot delete it and a claimer that dies early leaves it to the next one.
//
// Nobody judges a lease while the bus has not been healthy for LeaseTTL + 1 s (after a Redis
// restart without data the directory is empty until every owner's next Refresh takes its
// leases again): a match is claimed only when its owner has had the time to refresh.
//
// A match without a checkpoint (its game is not a game.Checkpointer, or it never took one)
// cannot be restored: its relayed players get END LOST as before.

var (
	errNoCheckpoint = errors.New("cluster: no checkpoint to restore the match from")
	errUnsettled    = errors.New("cluster: the bus has not been healthy long enough to judge a lease")
	errClaiming     = errors.New("cluster: a claim of the match is in progress here")
)

// maxFencedClaims bounds the epochs a claimer skips over: a fence ahead of the checkpoint is
// left by a claimer that died between its claim and storing its checkpoint.
const maxFencedClaims = 3

// failoverState is the bus's failover bookkeeping.
type failoverState struct {
	healthySince atomic.Int64 // unix ns since when the broker has been healthy (0: not healthy)
	draining     atomic.Bool  // Drain began: claim nothing, take no hand-off
	follows      sync.Map     // match id → MatchEntry: the new owner a relayed match follows
	claiming     sync.Map     // match id → true: a claim or hand-off in progress here
	refreshMu    sync.Mutex   // held by a heartbeat's lease refresh and by a hand-off's release
	m            *failoverMetrics
}

type failoverMetrics struct {
	claims   *prometheus.CounterVec
	follows  prometheus.Counter
	stale    prometheus.Counter
	stopped  prometheus.Counter
	moves    *prometheus.CounterVec
	handoffs *prometheus.CounterVec
	drain    prometheus.Histogram
}

// Results counted in tickrelay_failover_claims_total and tickrelay_handoffs_total.
const (
	claimRestored     = "restored"      // the match runs here now
	claimTaken        = "taken"         // another instance won the claim
	claimNoCheckpoint = "no_checkpoint" // nothing to restore it from: it ends LOST
	claimFailed       = "failed"        // the checkpoint could not be restored

	handoffMoved  = "moved"  // another instance runs the match now
	handoffFailed = "failed" // the match ended STOPPED instead
)

func newFailoverMetrics() *failoverMetrics {
	m := &failoverMetrics{
		claims: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_failover_claims_total",
			Help: "Claims of matches whose owner's lease was gone, by result (restored, taken, no_checkpoint, failed)."}, []string{"result"}),
		follows: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_failover_follows_total",
			Help: "Relayed matches that followed their new owner (restored or handed over elsewhere) instead of ending."}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_failover_stale_dropped_total",
			Help: "Relay messages dropped because they came from an older epoch of the match than the one followed."}),
		stopped: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_failover_stale_copies_total",
			Help: "Local matches stopped (END MOVED) because their lease was found taken by another instance or epoch."}),
		moves: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_failover_moves_total",
			Help: "Relayed players moved onto their match's new copy, by result (seated: their seat or a new one; lost: none free, END LOST)."}, []string{"result"}),
		handoffs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_handoffs_total",
			Help: "Matches this instance handed to another one at drain, by result (moved, failed: ended STOPPED)."}, []string{"result"}),
		drain: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tickrelay_drain_seconds",
			Help: "Duration of the hand-off phase of a drain.", Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 20}}),
	}
	for _, r := range []string{claimRestored, claimTaken, claimNoCheckpoint, claimFailed} {
		m.claims.WithLabelValues(r)
	}
	m.moves.WithLabelValues(moveSeated)
	m.moves.WithLabelValues(moveLost)
	m.handoffs.WithLabelValues(handoffMoved)
	m.handoffs.WithLabelValues(handoffFailed)
	return m
}

func (m *failoverMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.claims, m.follows, m.stale, m.stopped, m.moves, m.handoffs, m.drain}
}

// observeHealth follows the broker's health (liveness loop) for settled.
func (b *Bus) observeHealth() {
	if b.cfg.Broker.Health() != nil {
		b.fo.healthySince.Store(0)
	} else if b.fo.healthySince.Load() == 0 {
		b.fo.healthySince.Store(time.Now().UnixNano())
	}
}

// unsettle restarts the settling time (the broker reconnected: messages and maybe Redis' data
// were lost).
func (b *Bus) unsettle() { b.fo.healthySince.Store(time.Now().UnixNano()) }

// settled reports whether the bus has been healthy for LeaseTTL + 1 s: only then is a missing
// lease a dead (or cut off) owner rather than a Redis that lost its data.
func (b *Bus) settled() bool {
	since := b.fo.healthySince.Load()
	return since != 0 && time.Since(time.Unix(0, since)) >= b.cfg.LeaseTTL+time.Second
}

// claim takes over match id, whose lease is gone: it reads the checkpoint, claims epoch + 1
// (fenced: one claimer wins), stores the checkpoint under that epoch and restores the match
// here. Errors: errNoCheckpoint (it cannot be restored: it is lost), ErrTaken / ErrFenced
// (another instance won: look it up), errUnsettled, errClaiming, or a transient
// server.ErrUnavailable.
func (b *Bus) claim(ctx context.Context, id string) (*game.Match, error) {
	if b.cfg.Checkpoints == nil {
		return nil, errNoCheckpoint
	}
	if b.fo.draining.Load() {
		return nil, fmt.Errorf("%w: this instance is draining", server.ErrUnavailable)
	}
	// Settled first: right after Redis came back empty, a missing checkpoint says no more than
	// a missing lease does (both come back with the owner's next writes).
	if !b.settled() {
		return nil, errUnsettled
	}
	rec, err := b.cfg.Checkpoints.Get(ctx, id)
	if errors.Is(err, checkpoint.ErrNotFound) {
		return nil, errNoCheckpoint // (counted by the relay that ends it LOST)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %v", server.ErrUnavailable, err)
	}
	if _, busy := b.fo.claiming.LoadOrStore(id, true); busy {
		return nil, errClaiming
	}
	defer b.fo.claiming.Delete(id)
	if m, ok := b.env.Registry.Get(id); ok {
		return m, nil // restored here a moment ago
	}
	return b.restoreFrom(ctx, rec, rec.Epoch+1)
}

// claimEpoch claims id for this node at epoch (or a later one, over the fence of a claimer
// that died before storing its checkpoint) and returns the epoch claimed.
func (b *Bus) claimEpoch(ctx context.Context, id, gameName string, epoch uint32) (uint32, error) {
	for try := 0; ; try++ {
		e := MatchEntry{ID: id, Game: gameName, Node: b.node, Address: b.env.PublicURL, Epoch: epoch,
			Info: game.Info{ID: id, Game: gameName, Epoch: epoch}}
		err := b.cfg.Directory.Claim(ctx, e)
		switch {
		case err == nil:
			return epoch, nil
		case errors.Is(err, ErrFenced) && try < maxFencedClaims:
			if _, lerr := b.cfg.Directory.Lookup(ctx, id); lerr == nil || !isNotFound(lerr) {
				b.fo.m.claims.WithLabelValues(claimTaken).Inc()
				return 0, err // somebody holds it (or we cannot tell): follow the winner
			}
			epoch++ // nobody holds the fenced epoch: skip it
		case errors.Is(err, ErrTaken), errors.Is(err, ErrFenced):
			b.fo.m.claims.WithLabelValues(claimTaken).Inc()
			return 0, err
		default:
			return 0, fmt.Errorf("%w: claim: %v", server.ErrUnavailable, err)
		}
	}
}

// recoverMatch is Locate's path for a match with no live lease: claim it here, or find the
// instance that won the claim. ErrNoMatch when it cannot be restored.
func (b *Bus) recoverMatch(ctx context.Context, id string) (server.MatchHandle, error) {
	m, err := b.claim(ctx, id)
	switch {
	case err == nil:
		return server.LocalHandle(m, b.owner()), nil
	case errors.Is(err, errNoCheckpoint):
		return nil, fmt.Errorf("%w %q", server.ErrNoMatch, id)
	case errors.Is(err, ErrTaken), errors.Is(err, ErrFenced):
		e, lerr := b.cfg.Directory.Lookup(ctx, id)
		if lerr == nil && e.Node != b.node {
			return &remoteHandle{b: b, e: e}, nil
		}
	}
	return nil, fmt.Errorf("%w: match %q is moving to another instance, try again", server.ErrUnavailable, id)
}
