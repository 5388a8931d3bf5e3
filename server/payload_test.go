package server

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickrelay/tickrelay/protocol"
)

// nestedPayload spans depth levels: depth-1 arrays around a 1.
func nestedPayload(depth int) []byte {
	return append(bytes.Repeat([]byte{0x91}, depth-1), 0x01)
}

// nestedJSON is the JSON of nestedPayload(depth).
func nestedJSON(depth int) string {
	return strings.Repeat("[", depth-1) + "1" + strings.Repeat("]", depth-1)
}

// A payload that fits the sender's frame but not the frames it would be delivered in is
// refused with an ERROR (or an HTTP error) carrying a code, and never reaches a recipient: a
// MESSAGE nested 14 deep used to be relayed inside the DELTA 3 levels deeper, where every
// recipient's decoder refused the whole frame and lost that tick's state changes.
func TestPoisonPayloadsRefused(t *testing.T) {
	ts := startServer(t)
	a, tok := ts.connect("a")
	b, _ := ts.connect("b")
	cr := ts.create(tok, map[string]any{"game": "relay"})
	a.join("", cr.Reservation.Ticket)
	b.join(cr.Match.ID, "")

	// The deepest payload the budget allows is relayed, and decodes (b's client fails the
	// test on any undecodable frame).
	a.send(protocol.ClientMsg{Op: protocol.OpMessage, ToAll: true, Payload: nestedPayload(protocol.PayloadDepth)})
	if got := b.messageDepth(); got != protocol.PayloadDepth {
		t.Fatalf("the message at the budget arrived with depth %d", got)
	}
	for _, d := range []int{protocol.PayloadDepth + 1, 14, protocol.MaxDepth - 1} {
		a.send(protocol.ClientMsg{Op: protocol.OpMessage, ToAll: true, Payload: nestedPayload(d)})
		e := a.expect(protocol.OpError)
		if e.Code != protocol.ErrCodeTooLarge || e.RefOp != protocol.OpMessage {
			t.Fatalf("MESSAGE nested %d: %+v, want ERROR TOO_LARGE answering it", d, e)
		}
	}
	// b's stream is intact: the next message arrives, nothing in between.
	a.send(protocol.ClientMsg{Op: protocol.OpMessage, ToAll: true, Payload: nestedPayload(2)})
	if got := b.messageDepth(); got != 2 {
		t.Fatalf("after the refused ones, b got a message of depth %d, want the next one (2)", got)
	}

	// Published events (HTTP, operator key) and match params: the same budget.
	var out struct {
		Error struct {
			Code int    `json:"code"`
			Name string `json:"name"`
		} `json:"error"`
	}
	if st := ts.do("POST", "/v1/matches/"+cr.Match.ID+"/events", "op-key", map[string]any{"data": rawJSON(nestedJSON(13))}, &out); st != 413 || out.Error.Code != int(protocol.ErrCodeTooLarge) {
		t.Fatalf("publish nested 13: %d %+v, want 413 TOO_LARGE", st, out)
	}
	if st := ts.do("POST", "/v1/matches/"+cr.Match.ID+"/events", "op-key", map[string]any{"data": rawJSON(nestedJSON(protocol.PayloadDepth))}, nil); st != 202 {
		t.Fatalf("publish at the budget: %d, want 202", st)
	}
	for {
		m := b.next()
		if m.Op == protocol.OpDelta && m.Events != nil {
			break
		}
	}
	if st := ts.do("POST", "/v1/matches", tok, map[string]any{"game": "relay", "params": rawJSON(nestedJSON(13))}, &out); st != 413 || out.Error.Code != int(protocol.ErrCodeTooLarge) {
		t.Fatalf("create with params nested 13: %d %+v, want 413 TOO_LARGE", st, out)
	}
	if got := testutil.ToFloat64(ts.srv.metrics.payloadsRefused); got != 5 {
		t.Fatalf("payloads refused counted %v, want 5", got)
	}
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// messageDepth reads frames until a MESSAGE event arrives and returns its payload's depth.
func (c *client) messageDepth() int {
	c.t.Helper()
	for {
		m := c.next()
		if m.Op != protocol.OpDelta || m.Direct == nil {
			continue
		}
		r := protocol.NewReader(m.Direct)
		if _, err := r.ArrayLen(); err != nil {
			c.t.Fatal(err)
		}
		if _, err := r.ArrayLen(); err != nil { // [kind, from, data]
			c.t.Fatal(err)
		}
		_, _ = r.Uint()
		_, _ = r.Uint()
		d := 1
		for {
			if b, _ := r.Peek(); b != 0x91 {
				return d
			}
			_, _ = r.ArrayLen()
			d++
		}
	}
}
