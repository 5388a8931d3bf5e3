package cluster

import (
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/protocol"
)

// A player dropped from instance b resumes on instance c and gets exactly the deltas it
// missed (CATCHUP from its last tick, then the ring's deltas), for a match owned by a.
func TestClusterResumeOnAnotherInstance(t *testing.T) {
	a, b, c := threeInstances(t)
	tokAnn, tokBob := a.guest("ann"), b.guest("bob")
	cr := a.create(tokAnn, map[string]any{"game": "arena"})
	ann := a.dialToken(tokAnn)
	var ma game.Mirror
	ja := ann.join("", cr.Reservation.Ticket)
	must(t, ma.ApplyJoined(&ja))
	bob := b.dialToken(tokBob)
	var mb game.Mirror
	jb := bob.join(cr.Match.ID, "")
	must(t, mb.ApplyJoined(&jb))
	step := func(seq uint32) {
		ann.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: seq, Payload: arena.EncodeInput(nil, 1, 0)})
		ann.feedUntil(&ma, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta && m.HasAck && m.Ack >= seq })
	}
	for seq := uint32(1); seq <= 3; seq++ {
		step(seq)
	}
	bob.converge(&mb, func() uint64 { return viewOf(t, a, cr.Match.ID, jb.PID) })
	session, token := bob.welcome.Session, bob.welcome.ResumeToken
	bob.drop()
	missedFrom := mb.Tick
	for seq := uint32(4); seq <= 10; seq++ { // bob misses these
		step(seq)
	}
	bob2 := c.dialToken(tokBob)
	req := bob2.nextReq()
	bob2.send(protocol.ClientMsg{Op: protocol.OpResume, Req: req, Session: session, ResumeToken: token, Epoch: mb.Epoch, Tick: mb.Tick})
	if r := bob2.next(); r.Op != protocol.OpResumed || r.Req != req || r.Session != session {
		t.Fatalf("want RESUMED, got %+v", r)
	}
	cu := bob2.next()
	if cu.Op != protocol.OpCatchup || cu.Tick != missedFrom {
		t.Fatalf("want CATCHUP from %d, got %+v", missedFrom, cu)
	}
	must(t, mb.ApplyCatchup(&cu))
	deltas := 0
	bob2.feedUntil(&mb, func(m *protocol.ServerMsg) bool {
		if m.Op != protocol.OpDelta {
			t.Fatalf("after CATCHUP: op %d", m.Op)
		}
		deltas++
		return m.Tick >= ma.Tick
	})
	if deltas < 7 {
		t.Fatalf("%d deltas after the CATCHUP, want the 7+ it missed", deltas)
	}
	bob2.converge(&mb, func() uint64 { return viewOf(t, a, cr.Match.ID, jb.PID) })
	// The seat is bob's again, through c: its input is applied.
	bob2.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 1, Payload: arena.EncodeInput(nil, 0, 1)})
	bob2.feedUntil(&mb, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta && m.HasAck && m.Ack >= 1 })
	t.Logf("resumed on c after missing %d ticks: CATCHUP + %d deltas", ma.Tick-missedFrom, deltas)
}
