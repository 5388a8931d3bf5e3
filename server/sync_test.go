package server

import (
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/protocol"
)

// quickGrace is the arena with a 300 ms reconnect grace, well inside the resume window.
var quickGrace = game.GameType{Name: "arena-quick", New: arena.Type.New,
	Defaults: game.Options{TickRate: 20, ReconnectGrace: 300 * time.Millisecond}}

func withQuickGrace(c *Config) {
	c.Catalog = DefaultCatalog()
	c.Catalog.Register(quickGrace)
}

// hasEvent reports whether a DELTA's shared events hold [kind, from, data] with data == want.
func hasEvent(t *testing.T, m *protocol.ServerMsg, kind protocol.EventKind, from uint32, want float64) bool {
	t.Helper()
	if m.Op != protocol.OpDelta || m.Events == nil {
		return false
	}
	v, err := protocol.MsgpackToJSON(m.Events)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range v.([]any) {
		a := e.([]any)
		if a[0] == float64(kind) && a[1] == float64(from) && a[2] == want {
			return true
		}
	}
	return false
}

// A RESUME after the seat timed out (inside the resume window) used to get RESUMED and then
// nothing; a JOIN then answered ALREADY_JOINED. Now the match answers: ERROR NOT_IN_MATCH for
// the RESUME, and the session can join again.
func TestResumeAfterTheSeatExpiredIsAnswered(t *testing.T) {
	ts := startServer(t, withQuickGrace)
	ann, tok := ts.connect("ann")
	bob, _ := ts.connect("bob")
	cr := ts.create(tok, map[string]any{"game": "arena-quick"})
	j := ann.join("", cr.Reservation.Ticket)
	bob.join(cr.Match.ID, "")
	_ = ann.conn.NetConn().Close() // ann's socket dies without a close frame
	<-ann.done
	// bob sees ann drop, then her seat time out.
	for {
		m := bob.next()
		if hasEvent(t, &m, protocol.EventLeave, j.PID, float64(protocol.LeaveTimeout)) {
			break
		}
	}
	again, _, err := ts.dial(tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	again.expect(protocol.OpWelcome)
	again.send(protocol.ClientMsg{Op: protocol.OpResume, Req: 9, Session: ann.welcome.Session,
		ResumeToken: ann.welcome.ResumeToken, Epoch: j.Epoch, Tick: j.Tick})
	again.expect(protocol.OpResumed)
	e := again.expect(protocol.OpError)
	if e.Code != protocol.ErrCodeNotInMatch || e.RefOp != protocol.OpResume || e.RefID != 9 {
		t.Fatalf("answer to the RESUME of an expired seat: %+v", e)
	}
	// The session is back and free: it joins the match again, on a new seat.
	if j2 := again.join(cr.Match.ID, ""); j2.PID == j.PID {
		t.Fatalf("rejoined on the expired seat %d", j2.PID)
	}
}

// A second connection of the same user taking the seat tells the first one REPLACED (4104),
// not KICKED.
func TestSecondConnectionTakingTheSeatSendsReplaced(t *testing.T) {
	ts := startServer(t)
	ann, tok := ts.connect("ann")
	cr := ts.create(tok, map[string]any{"game": "arena"})
	j := ann.join("", cr.Reservation.Ticket)
	ann2, _, err := ts.dial(tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	ann2.expect(protocol.OpWelcome)
	if j2 := ann2.join(cr.Match.ID, ""); j2.PID != j.PID {
		t.Fatalf("the second connection got pid %d, want the seat %d", j2.PID, j.PID)
	}
	for {
		m := ann.next()
		if m.Op != protocol.OpEvent {
			continue
		}
		v, err := protocol.MsgpackToJSON(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind != protocol.EventNotice || v.([]any)[0] != float64(protocol.CloseReplaced) {
			t.Fatalf("the first connection got %v %v, want NOTICE [4104, …]", m.Kind, v)
		}
		break
	}
	// The first connection is out of the match (and may join another).
	ann.send(protocol.ClientMsg{Op: protocol.OpLeave, Req: 5})
	if e := ann.expect(protocol.OpError); e.Code != protocol.ErrCodeNotInMatch {
		t.Fatalf("LEAVE on the replaced connection: %+v", e)
	}
}

// An ERROR about a frame that does not decode names what the frame says, or 0: a msgpack str
// "hello" used to come back as refOp 104 (the byte 'h').
func TestBadFrameErrorNamesItsRequest(t *testing.T) {
	ts := startServer(t)
	c, _ := ts.connect("ann")
	for _, f := range []struct {
		frame      []byte
		op         protocol.Op
		ref        uint32
		whatItSent string
	}{
		{[]byte("\xa5hello"), 0, 0, `"hello"`},
		{[]byte{0x92, 0x02, 0x07}, protocol.OpJoin, 7, "[2, 7]"},
		{[]byte{0x93, 0x08, 0x05, 0xa1, 'x'}, protocol.OpSync, 5, `[8, 5, "x"]`},
	} {
		if err := c.conn.WriteMessage(gws.OpcodeBinary, f.frame); err != nil {
			t.Fatal(err)
		}
		e := c.expect(protocol.OpError)
		if e.RefOp != f.op || e.RefID != f.ref {
			t.Errorf("%s: ERROR refOp %d refID %d, want %d %d (%q)", f.whatItSent, e.RefOp, e.RefID, f.op, f.ref, e.Message)
		}
	}
}

// A reservation from the HTTP API carries no seat number: the match does not number seats
// (pids follow join order), so the "seat" it used to show (players + 1 when reserved) was stale
// and never checked.
func TestHTTPReservationHasNoStaleSeat(t *testing.T) {
	ts := startServer(t)
	_, tok := ts.connect("ann")
	cr := ts.create(tok, map[string]any{"game": "arena"})
	bobTok, _ := ts.guest("bob")
	var res map[string]any
	if st := ts.do("POST", "/v1/matches/"+cr.Match.ID+"/join", bobTok, nil, &res); st != 200 {
		t.Fatalf("reserve: %d %v", st, res)
	}
	if _, ok := res["seat"]; ok || res["ticket"] == "" {
		t.Fatalf("reservation %v: want a ticket and no seat", res)
	}
}
