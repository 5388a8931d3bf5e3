package game_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// One member flooding the inbox with SYNCs, inputs and messages cannot take another member's
// share of it, nor the room a newcomer's join needs; its SYNCs collapse into one.
func TestInboxSharedFairly(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	var fs, as sink
	flooder := e.join(m, "flooder", &fs)
	a := e.join(m, "a", &as)
	fs.take(t)
	as.take(t)

	for i := 0; i < 10000; i++ { // far more than the whole inbox holds
		_ = m.Sync(flooder, &fs, uint32(i+1), 1, 0)
		m.Input(flooder, uint32(i+1), 0, input(1, 0))
	}
	// The other member's inputs (its whole share) and a newcomer's join still get in.
	for seq := uint32(1); seq <= 4; seq++ {
		if !m.Input(a, seq, 0, input(0, 1)) {
			t.Fatalf("member a's input %d was dropped while another member flooded", seq)
		}
	}
	var cs sink
	wait := e.joinAsync(m, "c", &cs)
	e.step(m)
	if _, err := wait(); err != nil {
		t.Fatalf("a third player's join during the flood: %v", err)
	}
	if got := m.Coalesced(); got != 9999 {
		t.Fatalf("coalesced SYNCs: %d, want 9999 (one stays pending)", got)
	}
	// The flooder got exactly one answer, to its latest SYNC (a snapshot: epoch 1 tick 0 is
	// not in the ring), and a's inputs were all applied.
	var answers []uint32
	for _, f := range fs.take(t) {
		if f.Op == protocol.OpJoined || f.Op == protocol.OpCatchup {
			answers = append(answers, f.Req)
		}
	}
	if len(answers) != 1 || answers[0] != 10000 {
		t.Fatalf("answers to the flooder's SYNCs: %v, want one answering req 10000", answers)
	}
	acked := false
	for _, f := range as.take(t) {
		acked = acked || (f.Op == protocol.OpDelta && f.HasAck && f.Ack == 4)
	}
	if !acked {
		t.Fatal("member a's 4th input was not acked in the tick")
	}
	if m.Dropped() == 0 {
		t.Fatal("the flooder's excess inputs were not counted as dropped")
	}
}

// The relay budget: each sender a share per tick, the match a total; what does not fit is
// refused (the caller tells the sender), and a recipient's frame stays within the budget.
func TestRelayBudgetPerTick(t *testing.T) {
	const budget, share = 64 << 10, 16 << 10
	e := newEnv(t, game.GameType{Name: "chat", New: func() game.Logic { return &game.Base{} },
		Defaults: game.Options{MaxPlayers: 1000, RelayBudget: budget, RelayShare: share}})
	m := e.create(game.CreateOptions{Game: "chat"})
	sinks := make([]*sink, 9)
	pids := make([]uint32, len(sinks))
	for i := range sinks {
		sinks[i] = &sink{}
		pids[i] = e.join(m, string(rune('a'+i)), sinks[i])
	}
	for _, s := range sinks {
		s.take(t)
	}
	payload := protocol.AppendBytes(nil, bytes.Repeat([]byte{'x'}, 6000))
	accepted := map[uint32]int{}
	refused := 0
	for _, p := range pids[:8] { // 8 senders × 4 × 6 KB = 192 KB, three times the budget
		for k := 0; k < 4; k++ {
			if m.Message(p, nil, false, payload) {
				accepted[p]++
			} else {
				refused++
			}
		}
	}
	total := 0
	for p, n := range accepted {
		total += n
		if n*len(payload) > share+len(payload) {
			t.Fatalf("sender %d got %d messages in, over its share", p, n)
		}
	}
	if total*len(payload) > budget || refused == 0 || total+refused != 32 {
		t.Fatalf("accepted %d (%d bytes), refused %d: want the budget of %d bytes filled and the rest refused",
			total, total*len(payload), refused, budget)
	}
	e.step(m)
	// The listener gets every accepted message, in one frame within the budget.
	frames := sinks[8].take(t)
	got := 0
	for _, f := range frames {
		if f.Op != protocol.OpDelta {
			continue
		}
		if len(f.Direct) > budget+1024 {
			t.Fatalf("a recipient's direct events are %d bytes, over the budget %d", len(f.Direct), budget)
		}
		got += len(eventsIn(t, f.Direct))
	}
	if got != total {
		t.Fatalf("the listener got %d messages, %d were accepted", got, total)
	}
	if m.Refused() != uint64(refused) {
		t.Fatalf("Refused() = %d, want %d", m.Refused(), refused)
	}
	// Next tick the budget is fresh.
	if !m.Message(pids[0], nil, false, payload) {
		t.Fatal("a message in the next tick was refused")
	}
}

func eventsIn(t *testing.T, raw []byte) [][]byte {
	t.Helper()
	r := protocol.NewReader(raw)
	n, err := r.ArrayLen()
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, n)
	for i := range out {
		if out[i], err = r.Raw(3); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// deepEmitter emits its input payload wrapped once more, and relays it as a message.
type deepEmitter struct {
	game.Base
	errs []error
}

func (g *deepEmitter) Input(ctx *game.Ctx, p *game.Player, seq uint32, payload []byte) {
	g.errs = append(g.errs, ctx.Emit("wrapped", game.Raw(payload)))
	g.errs = append(g.errs, ctx.EmitTo(p.PID, "wrapped", game.Raw(payload)))
	g.errs = append(g.errs, ctx.Relay(p.PID, nil, true, payload))
	ctx.State().Spawn(game.EntityID(seq)).Set(0, game.Int(int64(seq)))
}

// nested returns a payload that spans depth levels: depth-1 arrays around a 1.
func nested(depth int) []byte {
	return append(bytes.Repeat([]byte{0x91}, depth-1), 0x01)
}

// Game code cannot poison a DELTA: an event or relayed payload too deep for the frame is
// refused (an error, logged and counted) and the rest of the tick still reaches everyone.
func TestTooDeepGameEventsAreRefused(t *testing.T) {
	g := &deepEmitter{}
	e := newEnv(t, game.GameType{Name: "deep", New: func() game.Logic { return g }})
	m := e.create(game.CreateOptions{Game: "deep"})
	var s sink
	pid := e.join(m, "a", &s)
	s.take(t)
	for d := protocol.PayloadDepth - 1; d <= protocol.PayloadDepth+3; d++ {
		g.errs = g.errs[:0]
		m.Input(pid, uint32(d), 0, nested(d))
		e.step(m)
		frames := s.take(t) // fails on any undecodable frame
		var delta *protocol.ServerMsg
		for i := range frames {
			if frames[i].Op == protocol.OpDelta {
				delta = &frames[i]
			}
		}
		if delta == nil || delta.Changes == nil {
			t.Fatalf("depth %d: the tick's state change did not arrive", d)
		}
		// Emit and EmitTo put the payload at the deepest level; Relay one level higher.
		wantEmit := d <= protocol.PayloadDepth
		wantRelay := d <= protocol.PayloadDepth+1
		for i, err := range g.errs {
			want := wantEmit
			if i == 2 {
				want = wantRelay
			}
			if (err == nil) != want {
				t.Fatalf("depth %d, call %d: err %v, want accepted=%v", d, i, err, want)
			}
			if err != nil && !errors.Is(err, game.ErrPayloadTooDeep) {
				t.Fatalf("depth %d: %v does not wrap ErrPayloadTooDeep", d, err)
			}
		}
	}
	// Deep params are refused at creation.
	if _, err := e.reg.Create(game.CreateOptions{Game: "deep", Params: nested(protocol.PayloadDepth + 1)}); !errors.Is(err, game.ErrPayloadTooDeep) {
		t.Fatalf("create with too-deep params: %v", err)
	}
	if _, err := e.reg.Create(game.CreateOptions{Game: "deep", Params: nested(protocol.PayloadDepth)}); err != nil {
		t.Fatalf("create with params at the budget: %v", err)
	}
	if err := m.Publish(nested(protocol.PayloadDepth + 1)); !errors.Is(err, game.ErrPayloadTooDeep) {
		t.Fatalf("publish too deep: %v", err)
	}
	if m.Message(pid, nil, true, nested(protocol.PayloadDepth+1)) {
		t.Fatal("a too-deep message was queued")
	}
}

// rawFields stores each input payload as a public and a private field of the sender's entity.
type rawFields struct{ game.Base }

func (rawFields) Join(ctx *game.Ctx, p *game.Player) {
	ctx.State().Spawn(game.EntityID(p.PID)).SetOwner(p.PID)
}

func (rawFields) Input(ctx *game.Ctx, p *game.Player, seq uint32, payload []byte) {
	ctx.State().Get(game.EntityID(p.PID)).Set(0, game.Raw(payload)).SetPrivate(1, game.Raw(payload))
}

// A field value deeper than the payload depth budget would make every DELTA and every later
// JOINED snapshot undecodable: the runtime refuses it (the field keeps its value).
func TestTooDeepFieldValuesRefused(t *testing.T) {
	e := newEnv(t, game.GameType{Name: "raw", New: func() game.Logic { return rawFields{} }})
	m := e.create(game.CreateOptions{Game: "raw"})
	var s sink
	pid := e.join(m, "a", &s)
	for seq, d := range []int{protocol.PayloadDepth, protocol.PayloadDepth + 1, 15} {
		m.Input(pid, uint32(seq+1), 0, nested(d))
		e.step(m)
		s.take(t) // fails on an undecodable frame
		var pub, priv []byte
		if err := m.Inspect(t.Context(), func(c *game.Ctx) {
			ent := c.State().Get(game.EntityID(pid))
			pub, priv = ent.Field(0).RawBytes(), ent.Field(1).RawBytes()
		}); err != nil {
			t.Fatal(err)
		}
		if want := nested(protocol.PayloadDepth); !bytes.Equal(pub, want) || !bytes.Equal(priv, want) {
			t.Fatalf("after a payload of depth %d the fields are %x / %x, want the depth-%d one", d, pub, priv, protocol.PayloadDepth)
		}
	}
	var late sink // a newcomer's snapshot decodes too
	e.join(m, "b", &late)
	if fs := late.take(t); len(fs) == 0 || fs[len(fs)-1].Op != protocol.OpJoined {
		t.Fatalf("newcomer got %v", fs)
	}
}
