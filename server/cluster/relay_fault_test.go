package cluster

import (
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/protocol"
)

// Redis killed (-9) mid-match and restarted (empty: no persistence): the match keeps ticking
// and its local player sees every tick; the relayed player's mirror equals the server's again
// soon after Redis is back (the bus reconnects, resubscribes and repairs it through the owner).
func TestRedisRestartRepairsRelayedPlayers(t *testing.T) {
	s, rc := standalone(t)
	a, b := redisPair(t, rc)
	tok := a.guest("ann")
	cr := a.create(tok, map[string]any{"game": "arena"})
	ann, bob := a.dialToken(tok), b.connect("bob")
	var ma, mb game.Mirror
	ja := ann.join("", cr.Reservation.Ticket)
	must(t, ma.ApplyJoined(&ja))
	jb := bob.join(cr.Match.ID, "")
	must(t, mb.ApplyJoined(&jb))
	seq := uint32(0)
	move := func() {
		seq++
		ann.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: seq, Payload: arena.EncodeInput(nil, 1, 0.2)})
		ann.feedUntil(&ma, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta && m.HasAck && m.Ack >= seq })
	}
	for i := 0; i < 5; i++ {
		move()
	}
	bob.converge(&mb, func() uint64 { return viewOf(t, a, cr.Match.ID, jb.PID) })
	must(t, s.Kill())
	down := time.Now()
	for time.Since(down) < 2*time.Second {
		move() // the owner's player plays on, every tick acked
	}
	must(t, s.Restart())
	back := time.Now()
	bob.converge(&mb, func() uint64 { return viewOf(t, a, cr.Match.ID, jb.PID) })
	took := time.Since(back)
	if took > 3*time.Second {
		t.Fatalf("relayed mirror equal again %v after Redis came back, want ≤ 3 s", took)
	}
	t.Logf("Redis down 2 s: the owner's player got %d acks meanwhile; the relayed mirror equalled the server's %v after Redis was back",
		seq-5, took.Round(time.Millisecond))
	// Relaying works again: a new input of bob's is applied and acked through the relay.
	bob.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 1, Payload: arena.EncodeInput(nil, 0, 1)})
	bob.feedUntil(&mb, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta && m.HasAck && m.Ack >= 1 })
}
