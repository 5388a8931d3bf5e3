package cluster

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/game/duel"
	"github.com/tickrelay/tickrelay/protocol"
)

func threeInstances(t *testing.T) (a, b, c *instance) {
	net, dir := NewMemoryNetwork(), NewMemoryDirectory(DirectoryConfig{})
	sub := memorySubstrate(net, dir)
	a, b, c = startInstance(t, "a", sub), startInstance(t, "b", sub), startInstance(t, "c", sub)
	waitNodes(t, 3, a, b, c)
	return a, b, c
}

// messages collects the MESSAGE payloads (strings) of frames until a PONG answering a ping
// sent now, so "nothing more arrived" is proven by a later frame, not by a timeout. Relayed
// messages travel a different path than the PONG, so it first waits for want messages.
func (c *client) messages(t *testing.T, want int) []string {
	t.Helper()
	var got []string
	collect := func(m protocol.ServerMsg) {
		if m.Op != protocol.OpDelta {
			return
		}
		for _, raw := range [][]byte{m.Events, m.Direct} {
			if raw == nil {
				continue
			}
			v, err := protocol.MsgpackToJSON(raw)
			must(t, err)
			for _, e := range v.([]any) {
				ev := e.([]any)
				if s, ok := ev[2].(string); ok && uint32(ev[0].(float64)) == uint32(protocol.EventMessage) {
					got = append(got, s)
				}
			}
		}
	}
	for len(got) < want {
		collect(c.next())
	}
	c.send(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 1)})
	for {
		m := c.next()
		if m.Op == protocol.OpPong {
			return got
		}
		collect(m)
	}
}

// The relay game across three instances: messages to all and to one player, sender excluded.
func TestClusterRelayGame(t *testing.T) {
	a, b, c := threeInstances(t)
	tok := a.guest("x")
	cr := a.create(tok, map[string]any{"game": "relay"})
	x := a.dialToken(tok)
	y, z := b.connect("y"), c.connect("z")
	x.join("", cr.Reservation.Ticket)
	y.join(cr.Match.ID, "")
	jz := z.join(cr.Match.ID, "")
	y.send(protocol.ClientMsg{Op: protocol.OpMessage, ToAll: true, Payload: protocol.AppendString(nil, "from b")})
	for _, cl := range []*client{x, z} {
		if got := cl.messages(t, 1); len(got) != 1 || got[0] != "from b" {
			t.Fatalf("got %q", got)
		}
	}
	if got := y.messages(t, 0); len(got) != 0 {
		t.Fatalf("the sender got its own message: %q", got)
	}
	y.send(protocol.ClientMsg{Op: protocol.OpMessage, To: []uint32{jz.PID}, Payload: protocol.AppendString(nil, "to z")})
	if got := z.messages(t, 1); len(got) != 1 || got[0] != "to z" {
		t.Fatalf("z got %q", got)
	}
	// x hears nothing: y's next broadcast is the first message x sees.
	y.send(protocol.ClientMsg{Op: protocol.OpMessage, ToAll: true, Payload: protocol.AppendString(nil, "again")})
	if got := x.messages(t, 1); len(got) != 1 || got[0] != "again" {
		t.Fatalf("x got %q (a message addressed to z leaked)", got)
	}
}

// handKeys reports whose hands (duel.KeyHand) a msgpack entity map or changes value holds.
func handKeys(t *testing.T, raw []byte) map[uint32]bool {
	t.Helper()
	out := map[uint32]bool{}
	if len(raw) == 0 {
		return out
	}
	v, err := protocol.MsgpackToJSON(raw)
	must(t, err)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			pairs, ok := x["map"].([]any)
			if !ok {
				return
			}
			for _, kv := range pairs {
				p := kv.([]any)
				id, _ := p[0].(float64)
				fm, ok := p[1].(map[string]any)
				if !ok {
					continue
				}
				fields, _ := fm["map"].([]any)
				for _, f := range fields {
					if uint32(f.([]any)[0].(float64)) == uint32(duel.KeyHand) {
						out[uint32(id)] = true
					}
				}
			}
		}
	}
	walk(v)
	return out
}

// Duel across instances: each relayed player's private hand reaches only that player.
func TestClusterDuelPrivateHands(t *testing.T) {
	a, b, c := threeInstances(t)
	tok := a.guest("p")
	cr := a.create(tok, map[string]any{"game": "duel"})
	p, q := b.dialToken(tok), c.connect("q")
	jp := p.join("", cr.Reservation.Ticket) // a ticket from a, used on b
	jq := q.join(cr.Match.ID, "")
	if h := handKeys(t, jq.Private); !h[jq.PID] || len(h) != 1 {
		t.Fatalf("q's JOINED private holds hands %v", h)
	}
	if h := handKeys(t, jq.State); len(h) != 0 {
		t.Fatalf("hands in the public snapshot: %v", h)
	}
	for {
		m := p.next()
		if m.Op == protocol.OpDelta && m.Private != nil {
			if h := handKeys(t, m.Private); !h[jp.PID] || len(h) != 1 {
				t.Fatalf("p's private holds hands %v", h)
			}
			if h := handKeys(t, m.Changes); len(h) != 0 {
				t.Fatalf("a hand in the shared delta: %v", h)
			}
			return
		}
	}
}

// SSE from an instance that does not own the match.
func TestClusterStreamFromAnotherInstance(t *testing.T) {
	a, b, _ := threeInstances(t)
	tok := a.guest("ann")
	cr := a.create(tok, map[string]any{"game": "arena"})
	ann := a.dialToken(tok)
	ann.join("", cr.Reservation.Ticket)
	req, _ := http.NewRequestWithContext(ctx5(t), "GET", b.base+"/v1/matches/"+cr.Match.ID+"/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	events := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "event: ") {
				events <- strings.TrimPrefix(l, "event: ")
			}
		}
		close(events)
	}()
	next := func() string {
		select {
		case e := <-events:
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no event within 5 s")
			return ""
		}
	}
	if e := next(); e != "state" {
		t.Fatalf("first event %q", e)
	}
	ann.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 1, Payload: arena.EncodeInput(nil, 1, 0)})
	for e := next(); e != "delta"; e = next() {
	}
}
