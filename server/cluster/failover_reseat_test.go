package cluster

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/checkpoint"
)

// A relayed player who joined after the match's last checkpoint has no seat in the match
// restored from it. When its owner dies, the instance that moves him there must answer him:
// a JOIN into the restored match (a JOINED of the new epoch, his new pid, and the match goes
// on) when a seat is free, else END LOST. Before the fix he got nothing he waits for and
// stayed on the old epoch. Checkpoints are held back by a gate (not by timing), so the
// checkpoint always predates his join.
func TestFailoverRelayedPlayerJoinedAfterCheckpoint(t *testing.T) {
	// The instance relaying him claims the match and moves him onto its local copy (adopt).
	t.Run("claimed-by-relay", func(t *testing.T) { testJoinedAfterCheckpoint(t, false) })
	// Another instance claims it; the relay follows the new owner (relocate).
	t.Run("claimed-elsewhere", func(t *testing.T) { testJoinedAfterCheckpoint(t, true) })
}

func testJoinedAfterCheckpoint(t *testing.T, elsewhere bool) {
	f := newFailoverRedis(t)
	gate := &checkpointGate{}
	a := f.start("a", gate.install)
	var b, c *instance
	if elsewhere {
		b = f.start("b", cannotClaim) // b waits for another instance's claim and follows it
		c = f.start("c")
		waitNodes(t, 3, a, b, c)
		settle(t, a, b, c)
	} else {
		b = f.start("b")
		waitNodes(t, 2, a, b)
		settle(t, a, b)
	}
	cr := a.create(a.guest("ann"), map[string]any{"game": "arena"})
	id := cr.Match.ID
	ann := a.connect("ann")
	ja := ann.join(id, "")
	f.waitCheckpointAfter(id, ja.Tick) // ann's seat is in it
	gate.shut.Store(true)              // nothing later is stored: bob's seat never is

	bob := b.connect("bob")
	mb := &game.Mirror{}
	jb := bob.join(id, "")
	must(t, mb.ApplyJoined(&jb))
	bob.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 1, Payload: arena.EncodeInput(nil, 1, 0)})
	bob.feedUntil(mb, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta && m.Ack >= 1 })
	if r, err := f.store.Get(context.Background(), id); err != nil || r.Tick >= jb.Tick {
		t.Fatalf("the stored checkpoint (%+v, %v) does not predate bob's join at tick %d", r, err, jb.Tick)
	}

	f.kill("a")
	owner := b
	if elsewhere {
		f.leaseExpired(id)
		settle(t, c)
		_, err := c.bus.claim(context.Background(), id)
		must(t, err)
		owner = c
	}
	j := movedAnswer(bob, mb, protocol.OpJoined)
	if j.Epoch != 2 || j.PID == 0 {
		t.Fatalf("JOINED after the move: epoch %d pid %d, want epoch 2 and a seat", j.Epoch, j.PID)
	}
	survivors := []*instance{b}
	if c != nil {
		survivors = append(survivors, c)
	}
	if own := owners(id, survivors...); len(own) != 1 || own[0] != owner {
		t.Fatalf("the match runs on %d instances, want %s only", len(own), owner.name)
	}
	var seated bool
	m, _ := owner.srv.Registry().Get(id)
	must(t, m.Inspect(context.Background(), func(c *game.Ctx) {
		p := c.Player(j.PID)
		seated = p != nil && p.UserID == bob.welcome.User && p.Connected
	}))
	if !seated {
		t.Fatalf("pid %d in the restored match is not bob's connected seat", j.PID)
	}
	// He plays on: his next input (the session now uses the new seat) is applied and acked.
	bob.converge(mb, func() uint64 { return viewOf(t, owner, id, j.PID) })
	bob.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 2, Payload: arena.EncodeInput(nil, 0, 1)})
	bob.feedUntil(mb, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta && m.Ack >= 2 })
	if got := testutil.ToFloat64(b.bus.fo.m.moves.WithLabelValues(moveSeated)); got != 1 {
		t.Fatalf("%v seated moves counted on b, want 1", got)
	}
}

// The restored match is full (its checkpoint still has the seat of a player who left before
// bob took it): bob gets END LOST, and his session is free for another JOIN.
func TestFailoverRelayedPlayerNoSeatLeftEndsLost(t *testing.T) {
	f := newFailoverRedis(t)
	gate := &checkpointGate{}
	a := f.start("a", gate.install)
	b := f.start("b")
	waitNodes(t, 2, a, b)
	settle(t, a, b)
	tok := a.guest("ann") // the creator: her reservation is used by her join
	cr := a.create(tok, map[string]any{"game": "arena", "max_players": 2})
	id := cr.Match.ID
	ann, xav := a.dialToken(tok), a.connect("xav")
	ann.join(id, "")
	jx := xav.join(id, "")
	f.waitCheckpointAfter(id, jx.Tick)
	gate.shut.Store(true)
	xav.send(protocol.ClientMsg{Op: protocol.OpLeave, Req: xav.nextReq()})
	xav.expect(protocol.OpLeft)

	bob := b.connect("bob")
	mb := &game.Mirror{}
	jb := bob.join(id, "")
	must(t, mb.ApplyJoined(&jb))
	f.kill("a")
	end := movedAnswer(bob, mb, protocol.OpEnd)
	if end.Reason != protocol.EndLost {
		t.Fatalf("END reason %d, want %d LOST", end.Reason, protocol.EndLost)
	}
	if len(owners(id, b)) != 1 {
		t.Fatal("b does not run the restored match")
	}
	if got := testutil.ToFloat64(b.bus.fo.m.moves.WithLabelValues(moveLost)); got != 1 {
		t.Fatalf("%v lost moves counted, want 1", got)
	}
	// The session is in no match: a JOIN of another match is answered (not ALREADY_JOINED).
	other := b.create(b.guest("bob"), map[string]any{"game": "arena"})
	if j := bob.join(other.Match.ID, ""); j.Match != other.Match.ID {
		t.Fatalf("JOINED %q, want %q", j.Match, other.Match.ID)
	}
}

// movedAnswer reads c's frames after its match's owner died until the first one that is not a
// DELTA or EVENT of the old epoch; it must be op. An ERROR, or nothing, is what a client
// cannot act on: it answers no request of the client's (the old code sent NOT_IN_MATCH
// answering nothing, and the SDK stayed on epoch 1).
func movedAnswer(c *client, mi *game.Mirror, op protocol.Op) protocol.ServerMsg {
	c.t.Helper()
	for {
		m := c.next()
		switch {
		case m.Op == protocol.OpEvent, m.Op == protocol.OpDelta && m.Epoch == mi.Epoch:
			if m.Op == protocol.OpDelta {
				_ = mi.ApplyDelta(&m)
			}
			continue
		case m.Op != op:
			c.t.Fatalf("after the owner died: got %+v, want op %d", m, op)
		}
		if m.Op == protocol.OpJoined {
			if err := mi.ApplyJoined(&m); err != nil {
				c.t.Fatal(err)
			}
		}
		return m
	}
}

// checkpointGate passes an instance's checkpoints on to its writer until shut.
type checkpointGate struct {
	next game.CheckpointSink
	shut atomic.Bool
}

func (g *checkpointGate) install(_ *BusConfig, cfg *server.Config) {
	g.next, cfg.Checkpoints = cfg.Checkpoints, g
}

func (g *checkpointGate) Offer(c game.MatchCheckpoint) {
	if !g.shut.Load() {
		g.next.Offer(c)
	}
}

func (g *checkpointGate) Forget(id string) { g.next.Forget(id) }

// cannotClaim gives an instance a checkpoint store it cannot read: it never restores a match
// itself (its claims fail as Redis-unavailable) and follows the instance that does.
func cannotClaim(bc *BusConfig, _ *server.Config) { bc.Checkpoints = unreadable{bc.Checkpoints} }

type unreadable struct{ checkpoint.Store }

func (unreadable) Get(context.Context, string) (checkpoint.Record, error) {
	return checkpoint.Record{}, errors.New("test: checkpoint store unreachable")
}
