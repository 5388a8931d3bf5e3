package server

import (
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/protocol"
)

// A client whose session cannot be resumed (the instance that had it is gone) follows its match
// with a JOIN by id: it gets its own seat back (same pid, JOINED's ack = its last applied
// input), in a private match too, while another user still needs a ticket there.
func TestRejoinByIDTakesBackTheSeatOfAPrivateMatch(t *testing.T) {
	ts := startServer(t)
	ann, tok := ts.connect("ann")
	cr := ts.create(tok, map[string]any{"game": "arena", "private": true})
	var mi game.Mirror
	j := ann.join("", cr.Reservation.Ticket)
	if err := mi.ApplyJoined(&j); err != nil {
		t.Fatal(err)
	}
	for seq := uint32(1); seq <= 3; seq++ {
		ann.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: seq, Payload: arena.EncodeInput(nil, 1, 0)})
	}
	ann.feedUntil(&mi, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta && m.HasAck && m.Ack >= 3 })
	_ = ann.conn.NetConn().Close() // dropped: the seat is kept for the reconnect grace
	<-ann.done

	again, st, err := ts.dial(tok, nil)
	if err != nil {
		t.Fatalf("dial: %d %v", st, err)
	}
	again.expect(protocol.OpWelcome)
	req := again.nextReq()
	again.send(protocol.ClientMsg{Op: protocol.OpResume, Req: req, Session: "s-gone", ResumeToken: "nope", Epoch: mi.Epoch, Tick: mi.Tick})
	if e := again.expect(protocol.OpError); e.Code != protocol.ErrCodeResumeFailed || e.RefID != req {
		t.Fatalf("RESUME of an unknown session: %+v", e)
	}
	back := again.join(cr.Match.ID, "")
	if back.PID != j.PID || back.Ack != 3 {
		t.Fatalf("rejoin by id: pid %d ack %d, want pid %d ack 3", back.PID, back.Ack, j.PID)
	}

	bob, _ := ts.connect("bob")
	req = bob.nextReq()
	bob.send(protocol.ClientMsg{Op: protocol.OpJoin, Req: req, Match: cr.Match.ID})
	if e := bob.expect(protocol.OpError); e.Code != protocol.ErrCodeForbidden || e.RefID != req {
		t.Fatalf("another user's JOIN by id of a private match: %+v", e)
	}
}
