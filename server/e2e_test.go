package server

import (
	"context"
	"math"
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/protocol"
)

func viewOf(t *testing.T, ts *testServer, matchID string, pid uint32) uint64 {
	t.Helper()
	m, ok := ts.srv.Registry().Get(matchID)
	if !ok {
		t.Fatalf("no match %s", matchID)
	}
	var sum uint64
	if err := m.Inspect(context.Background(), func(c *game.Ctx) { sum = c.State().ViewChecksum(pid) }); err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestArenaEndToEnd(t *testing.T) {
	ts := startServer(t)
	ann, annTok := ts.connect("ann")
	bob, _ := ts.connect("bob")
	c := ts.create(annTok, map[string]any{"game": "arena", "max_players": 4})
	if c.Reservation.Ticket == "" || c.Reservation.Address != ts.ws {
		t.Fatalf("reservation %+v", c.Reservation)
	}
	var ma, mb game.Mirror
	ja := ann.join("", c.Reservation.Ticket) // by ticket
	if err := ma.ApplyJoined(&ja); err != nil {
		t.Fatal(err)
	}
	jb := bob.join(c.Match.ID, "") // by id (a public match)
	if err := mb.ApplyJoined(&jb); err != nil {
		t.Fatal(err)
	}
	if jb.Game != "arena" || jb.TickRate != 20 || jb.PID == ja.PID {
		t.Fatalf("joined %+v", jb)
	}
	var ax0 float32
	protocol.Unmarshal([]byte(ma.Public[ja.PID][0]), &ax0)
	// Both send 20 inputs, one per tick; each waits for its ack.
	framesPerTick := map[uint32]int{}
	for seq := uint32(1); seq <= 20; seq++ {
		ann.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: seq, Seen: ma.Tick, Payload: arena.EncodeInput(nil, 1, 0.5)})
		bob.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: seq, Seen: mb.Tick, Payload: arena.EncodeInput(nil, -1, 0)})
		ann.feedUntil(&ma, func(m *protocol.ServerMsg) bool {
			if m.Op == protocol.OpDelta {
				framesPerTick[m.Tick]++
			}
			return m.Op == protocol.OpDelta && m.HasAck && m.Ack >= seq
		})
		bob.feedUntil(&mb, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta && m.HasAck && m.Ack >= seq })
	}
	for tick, n := range framesPerTick {
		if n != 1 {
			t.Fatalf("tick %d reached the client in %d frames, want 1", tick, n)
		}
	}
	// Inputs have stopped, so the state is static: each mirror must converge on exactly the
	// server's view (any delta still in flight is applied first).
	for _, x := range []struct {
		c  *client
		mi *game.Mirror
		p  uint32
	}{{ann, &ma, ja.PID}, {bob, &mb, jb.PID}} {
		want := viewOf(t, ts, c.Match.ID, x.p)
		for x.mi.Checksum() != want {
			x.c.feedUntil(x.mi, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta })
		}
	}
	if ma.Ack != 20 || mb.Ack != 20 {
		t.Fatalf("acks %d %d", ma.Ack, mb.Ack)
	}
	// Positions moved as the inputs said: ann +5/tick in x, bob -5/tick.
	var ax, bx float32
	protocol.Unmarshal([]byte(ma.Public[ja.PID][0]), &ax)
	protocol.Unmarshal([]byte(mb.Public[jb.PID][0]), &bx)
	if len(ma.Public) != 2 || len(mb.Public) != 2 {
		t.Fatalf("mirrors hold %d and %d entities", len(ma.Public), len(mb.Public))
	}
	step := 5 * 1 / math.Hypot(1, 0.5) // dx=1, dy=0.5 normalised to length 1, speed 5
	if want := math.Min(1000, float64(ax0)+20*step); math.Abs(float64(ax)-want) > 0.01 {
		t.Fatalf("ann's x = %v, want %v", ax, want)
	}
	if bx < 0 || bx > 1000 {
		t.Fatalf("bob's x out of the world: %v", bx)
	}
}
