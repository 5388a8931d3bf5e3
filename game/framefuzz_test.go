package game_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/relay"
	"github.com/tickrelay/tickrelay/protocol"
)

// echoGame puts what players send everywhere a payload can go: as a game event (to all and to
// the sender), wrapped once more, relayed as a message, and as the match result.
type echoGame struct{ game.Base }

func (echoGame) Input(ctx *game.Ctx, p *game.Player, seq uint32, payload []byte) {
	_ = ctx.Emit("in", game.Raw(payload))
	_ = ctx.EmitTo(p.PID, "in", game.Raw(append([]byte{0x91}, payload...)))
	_ = ctx.Relay(p.PID, nil, true, payload)
	id := game.EntityID(1 + seq%4)
	e := ctx.State().Get(id)
	if e == nil {
		e = ctx.State().Spawn(id)
	}
	e.Set(0, game.Uint(uint64(seq)))
	e.Set(1, game.Raw(payload))
	e.SetPrivate(2, game.Raw(payload))
}

// FuzzMatchFramesDecode is the frame-validity property: whatever clients send, every frame a
// match hands its members decodes with the reference decoder (protocol.DecodeServer, which
// applies the same limits as the JS SDK's). Each input is a client frame; it is decoded as the
// server's session decodes it and handed to the match the way the session does, from one of
// two members (who&1), its payload also published as a server event (who&2); then the match
// ticks and every frame both members got must decode.
func FuzzMatchFramesDecode(f *testing.F) {
	for _, seed := range [][]byte{
		protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpMessage, ToAll: true, Payload: nested(protocol.PayloadDepth)}),
		protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpMessage, ToAll: true, Echo: true, Payload: nested(14)}),
		protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpMessage, To: []uint32{1, 2, 2}, Payload: nested(13)}),
		protocol.AppendInput(nil, 1, 0, nested(protocol.PayloadDepth)),
		protocol.AppendInput(nil, 2, 0, nested(protocol.PayloadDepth+1)),
		protocol.AppendInput(nil, 3, 0, nested(15)),
		protocol.AppendInput(nil, 4, 0, []byte{0x81, 0xa1, 0x78, 0x92, 0xca, 0x3f, 0x80, 0, 0, 0xc3}),
		protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpSync, Req: 7, Epoch: 1, Tick: 0}),
		protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpLeave, Req: 3}),
		protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpJoin, Req: 2, Match: "m", Meta: nested(15)}),
	} {
		f.Add(seed, uint8(0))
		f.Add(seed, uint8(3))
	}
	cat := game.NewCatalog()
	cat.Register(relay.Type)
	cat.Register(game.GameType{Name: "echo", New: func() game.Logic { return echoGame{} }})
	clock := game.NewManualClock()
	reg := game.NewRegistry(game.RegistryConfig{Catalog: cat, Clock: clock, NoStagger: true, Log: slog.New(slog.DiscardHandler)})
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = reg.Shutdown(ctx)
	})
	m, err := reg.Create(game.CreateOptions{Game: "echo", MaxPlayers: 64})
	if err != nil {
		f.Fatal(err)
	}
	step := func(tb testing.TB) {
		clock.Advance(50 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Inspect(ctx, func(*game.Ctx) {}); err != nil {
			tb.Fatalf("match: %v", err)
		}
	}
	sinks := [2]*sink{{}, {}}
	var pids [2]uint32
	for i, s := range sinks {
		p, err := m.StartJoin(context.Background(), string(rune('a'+i)), "n", nil, s, 1)
		if err != nil {
			f.Fatal(err)
		}
		step(f)
		if pids[i], err = p.Wait(context.Background()); err != nil {
			f.Fatal(err)
		}
	}
	newcomers := 0
	var dec protocol.ClientMsg
	f.Fuzz(func(t *testing.T, frame []byte, who uint8) {
		if protocol.DecodeClient(frame, &dec) != nil {
			return // the session answers ERROR MALFORMED; nothing reaches the match
		}
		s, pid := sinks[who&1], pids[who&1]
		switch dec.Op {
		case protocol.OpInput:
			m.Input(pid, dec.Seq, dec.Seen, dec.Payload)
		case protocol.OpMessage:
			m.Message(pid, dec.To, dec.Echo, dec.Payload)
		case protocol.OpSync:
			_ = m.Sync(pid, s, dec.Req, dec.Epoch, dec.Tick)
		case protocol.OpLeave: // dropped and back: LEAVE and REJOIN events, then a catch-up
			m.Leave(pid, s, protocol.LeaveDropped)
			_ = m.Sync(pid, s, dec.Req, 1, 0)
		case protocol.OpJoin:
			if newcomers < 32 {
				newcomers++
				_, _ = m.StartJoin(context.Background(), "new"+string(rune('a'+newcomers)), dec.Client, dec.Meta, &sink{}, dec.Req)
			}
		}
		if who&2 != 0 && dec.Payload != nil {
			_ = m.Publish(dec.Payload)
		}
		step(t)
		for i, s := range sinks {
			s.mu.Lock()
			frames := s.frames
			s.frames, s.shared = nil, nil
			s.mu.Unlock()
			for _, fr := range frames {
				var out protocol.ServerMsg
				if err := protocol.DecodeServer(fr, &out); err != nil {
					t.Fatalf("member %d got an undecodable frame after %x: %v\n%x", i, frame, err, fr)
				}
			}
		}
	})
}
