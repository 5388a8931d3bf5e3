package cluster

import (
	"bytes"
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/protocol"
)

// playArena: ann on the owner (a) and bob on another instance (b) play one arena match; both
// mirrors end equal to the server's view, and every tick's shared part reaches bob as the very
// bytes ann gets.
func playArena(t *testing.T, a, b *instance) {
	tokA := a.guest("ann")
	c := a.create(tokA, map[string]any{"game": "arena", "max_players": 4}) // no load anywhere yet: here
	ann := a.dialToken(tokA)
	bob := b.connect("bob")
	if c.Match.Owner.Node != a.name {
		t.Fatalf("created on %q, want %q", c.Match.Owner.Node, a.name)
	}
	var ma, mb game.Mirror
	ja := ann.join("", c.Reservation.Ticket)
	must(t, ma.ApplyJoined(&ja))
	jb := bob.join(c.Match.ID, "") // on b: relayed to a
	must(t, mb.ApplyJoined(&jb))
	if jb.PID == ja.PID || jb.Game != "arena" {
		t.Fatalf("joined %+v", jb)
	}
	annShared, bobShared := map[uint32][]byte{}, map[uint32][]byte{}
	for seq := uint32(1); seq <= 20; seq++ {
		ann.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: seq, Seen: ma.Tick, Payload: arena.EncodeInput(nil, 1, 0.5)})
		bob.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: seq, Seen: mb.Tick, Payload: arena.EncodeInput(nil, -1, 0)})
		ann.feedUntil(&ma, func(m *protocol.ServerMsg) bool {
			if m.Op == protocol.OpDelta {
				annShared[m.Tick] = sharedPart(t, ann.last)
			}
			return m.Op == protocol.OpDelta && m.HasAck && m.Ack >= seq
		})
		bob.feedUntil(&mb, func(m *protocol.ServerMsg) bool {
			if m.Op == protocol.OpDelta {
				bobShared[m.Tick] = sharedPart(t, bob.last)
			}
			return m.Op == protocol.OpDelta && m.HasAck && m.Ack >= seq
		})
	}
	ann.converge(&ma, func() uint64 { return viewOf(t, a, c.Match.ID, ja.PID) })
	bob.converge(&mb, func() uint64 { return viewOf(t, a, c.Match.ID, jb.PID) })
	if ma.Ack != 20 || mb.Ack != 20 {
		t.Fatalf("acks %d %d", ma.Ack, mb.Ack)
	}
	same := 0
	for tick, s := range bobShared {
		if as, ok := annShared[tick]; ok {
			if !bytes.Equal(as, s) {
				t.Fatalf("tick %d: bob's shared part differs from ann's", tick)
			}
			same++
		}
	}
	if same < 10 {
		t.Fatalf("only %d ticks compared", same)
	}
}

func TestClusterArenaMemory(t *testing.T) {
	net, dir := NewMemoryNetwork(), NewMemoryDirectory(DirectoryConfig{})
	sub := memorySubstrate(net, dir)
	a := startInstance(t, "a", sub)
	b := startInstance(t, "b", sub)
	waitNodes(t, 2, a, b)
	playArena(t, a, b)
}
