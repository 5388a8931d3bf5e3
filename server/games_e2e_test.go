package server

import (
	"fmt"
	"testing"

	"github.com/tickrelay/tickrelay/game/duel"
	"github.com/tickrelay/tickrelay/protocol"
)

// eventsOf decodes a DELTA's shared and direct events as [kind, from, data] JSON values.
func eventsOf(t *testing.T, m protocol.ServerMsg) [][]any {
	t.Helper()
	var out [][]any
	for _, raw := range [][]byte{m.Events, m.Direct} {
		if raw == nil {
			continue
		}
		v, err := protocol.MsgpackToJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range v.([]any) {
			out = append(out, e.([]any))
		}
	}
	return out
}

// messagesUntilPong collects MESSAGE event payloads until the PONG answering a ping sent now
// (so "nothing arrived" is proven by a later frame, not by a timeout).
func (c *client) messagesUntilPong(t *testing.T) []string {
	t.Helper()
	c.send(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 1)})
	var got []string
	for {
		m := c.next()
		if m.Op == protocol.OpPong {
			return got
		}
		if m.Op == protocol.OpDelta {
			for _, e := range eventsOf(t, m) {
				if uint32(e[0].(float64)) == uint32(protocol.EventMessage) {
					got = append(got, fmt.Sprint(e[2]))
				}
			}
		}
	}
}

func TestRelaySenderExclusionAndTargets(t *testing.T) {
	ts := startServer(t)
	a, tok := ts.connect("a")
	b, _ := ts.connect("b")
	c, _ := ts.connect("c")
	cr := ts.create(tok, map[string]any{"game": "relay"})
	a.join("", cr.Reservation.Ticket)
	b.join(cr.Match.ID, "")
	jc := c.join(cr.Match.ID, "")
	a.send(protocol.ClientMsg{Op: protocol.OpMessage, ToAll: true, Payload: protocol.AppendString(nil, "hello all")})
	// Wait until the message reached b and c before asking a (ordering across connections).
	for _, x := range []*client{b, c} {
		if got := x.messagesUntilMessage(t); got != "hello all" {
			t.Fatalf("got %q", got)
		}
	}
	if got := a.messagesUntilPong(t); len(got) != 0 {
		t.Fatalf("the sender got its own message without echo: %v", got)
	}
	a.send(protocol.ClientMsg{Op: protocol.OpMessage, To: []uint32{jc.PID}, Echo: true, Payload: protocol.AppendString(nil, "psst")})
	if got := c.messagesUntilMessage(t); got != "psst" {
		t.Fatalf("c got %q", got)
	}
	if got := a.messagesUntilMessage(t); got != "psst" {
		t.Fatalf("echo to the sender: %q", got)
	}
	if got := b.messagesUntilPong(t); len(got) != 0 {
		t.Fatalf("b got a message addressed to c: %v", got)
	}
}

// messagesUntilMessage waits for the next MESSAGE event and returns its payload.
func (c *client) messagesUntilMessage(t *testing.T) string {
	t.Helper()
	for {
		m := c.next()
		if m.Op != protocol.OpDelta {
			continue
		}
		for _, e := range eventsOf(t, m) {
			if s, ok := e[2].(string); ok && uint32(e[0].(float64)) == uint32(protocol.EventMessage) {
				return s
			}
		}
	}
}

func TestDuelPrivateFieldsReachOnlyTheirOwner(t *testing.T) {
	ts := startServer(t)
	a, tok := ts.connect("a")
	b, _ := ts.connect("b")
	cr := ts.create(tok, map[string]any{"game": "duel"})
	ja := a.join("", cr.Reservation.Ticket)
	jb := b.join(cr.Match.ID, "")
	// a joined first: the deal happens when b joins, so a learns its hand from a DELTA tail and
	// b from its JOINED snapshot.
	var handIn func(v any, pid uint32) (bool, bool)
	handIn = func(v any, pid uint32) (bool, bool) { // (own hand present, other's present)
		own, other := false, false
		if parts, ok := v.([]any); ok { // changes: [added, updated, removed]
			for _, p := range parts {
				o1, o2 := handIn(p, pid)
				own, other = own || o1, other || o2
			}
			return own, other
		}
		obj, ok := v.(map[string]any)
		if !ok || obj["map"] == nil {
			return false, false
		}
		for _, kv := range obj["map"].([]any) {
			p := kv.([]any)
			id := uint32(p[0].(float64))
			fields := p[1].(map[string]any)["map"].([]any)
			for _, f := range fields {
				if uint32(f.([]any)[0].(float64)) == uint32(duel.KeyHand) {
					if id == pid {
						own = true
					} else {
						other = true
					}
				}
			}
		}
		return own, other
	}
	hand := func(raw []byte, pid uint32) (bool, bool) {
		v, err := protocol.MsgpackToJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		return handIn(v, pid)
	}
	if own, other := hand(jb.Private, jb.PID); !own || other {
		t.Fatalf("b's JOINED private: own %v, other %v", own, other)
	}
	if len(jb.State) > 0 {
		if _, other := hand(jb.State, 0); other {
			t.Fatal("a hand is in the public snapshot")
		}
	}
	for {
		m := a.next()
		if m.Op == protocol.OpDelta && m.Private != nil {
			if own, other := hand(m.Private, ja.PID); !own || other {
				t.Fatalf("a's delta private: own %v, other %v", own, other)
			}
			if m.Changes != nil {
				if _, other := hand(m.Changes, 0); other {
					t.Fatal("a hand leaked into the shared delta")
				}
			}
			break
		}
	}
}
