package game_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestArenaJoinInputsAcksAndMirrors(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	a, b := &sink{}, &sink{}
	pa := e.join(m, "ann", a)
	pb := e.join(m, "bob", b)
	if pa != 1 || pb != 2 {
		t.Fatalf("pids %d %d", pa, pb)
	}
	var ma, mb game.Mirror
	feed(t, &ma, a.take(t))
	feed(t, &mb, b.take(t))
	if !ma.Joined || !mb.Joined || len(mb.Public) != 2 {
		t.Fatalf("mirrors after join: %+v %+v", ma, mb)
	}
	for seq := uint32(1); seq <= 5; seq++ {
		m.Input(pa, seq, ma.Tick, input(1, 0))
		m.Input(pb, seq, mb.Tick, input(0, -1))
		e.step(m)
		fa, fb := a.take(t), b.take(t)
		if len(fa) != 1 || len(fb) != 1 {
			t.Fatalf("tick %d: want one frame per member per tick, got %d and %d", seq, len(fa), len(fb))
		}
		feed(t, &ma, fa)
		feed(t, &mb, fb)
		if ma.Ack != seq || mb.Ack != seq {
			t.Fatalf("acks %d %d, want %d", ma.Ack, mb.Ack, seq)
		}
	}
	if ma.Checksum() != view(t, m, pa) || mb.Checksum() != view(t, m, pb) {
		t.Fatal("mirror differs from server state")
	}
	// A duplicate or old input is ignored (no ack change, no movement).
	m.Input(pa, 3, ma.Tick, input(1, 1))
	e.step(m)
	if fs := a.take(t); len(fs) != 0 {
		t.Fatalf("an old input produced %d frames", len(fs))
	}
}

func TestSharedPartEncodedOncePerTick(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena", MaxPlayers: 10})
	sinks := make([]*sink, 10)
	for i := range sinks {
		sinks[i] = &sink{}
		e.join(m, string(rune('a'+i)), sinks[i])
	}
	for _, s := range sinks {
		s.take(t)
	}
	for i := range sinks {
		m.Input(uint32(i+1), 1, 0, input(0.5, 0.5))
	}
	e.step(m)
	var first *byte
	for i, s := range sinks {
		s.mu.Lock()
		if len(s.shared) != 1 {
			t.Fatalf("member %d got %d frames", i, len(s.shared))
		}
		p := &s.shared[0][0]
		s.mu.Unlock()
		if first == nil {
			first = p
		} else if p != first {
			t.Fatalf("member %d got a different shared buffer: the delta was encoded more than once", i)
		}
	}
}

func TestResumeFromRingAndSnapshotFallback(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	a, b := &sink{}, &sink{}
	pa := e.join(m, "ann", a)
	e.join(m, "bob", b)
	var ma game.Mirror
	feed(t, &ma, a.take(t))
	// ann's connection drops; bob keeps moving for 10 ticks.
	m.Leave(pa, a, protocol.LeaveDropped)
	for i := uint32(1); i <= 10; i++ {
		m.Input(2, i, 0, input(1, 0))
		e.step(m)
	}
	if got := a.take(t); len(got) != 0 {
		t.Fatalf("a dropped member got %d frames", len(got))
	}
	// She comes back on a new connection and asks for what followed her last tick.
	a2 := &sink{}
	if err := m.Sync(pa, a2, 7, ma.Epoch, ma.Tick); err != nil {
		t.Fatal(err)
	}
	e.step(m)
	got := a2.take(t)
	if len(got) < 2 || got[0].Op != protocol.OpCatchup || got[0].Req != 7 {
		t.Fatalf("want CATCHUP then deltas, got %d frames starting with op %d", len(got), got[0].Op)
	}
	feed(t, &ma, got)
	if ma.Checksum() != view(t, m, pa) {
		t.Fatal("mirror after catch-up differs from server state")
	}
	// Beyond the ring (5 s at 20 Hz = 100 deltas): a snapshot instead.
	old := ma
	m.Leave(pa, a2, protocol.LeaveDropped)
	for i := uint32(11); i <= 130; i++ {
		m.Input(2, i, 0, input(0, 1))
		e.step(m)
	}
	a3 := &sink{}
	m.Sync(pa, a3, 8, old.Epoch, old.Tick)
	e.step(m)
	got = a3.take(t)
	if len(got) != 1 || got[0].Op != protocol.OpJoined || got[0].Req != 8 {
		t.Fatalf("want one JOINED, got %d frames (first op %d)", len(got), got[0].Op)
	}
	var fresh game.Mirror
	feed(t, &fresh, got)
	if fresh.Checksum() != view(t, m, pa) {
		t.Fatal("snapshot differs from server state")
	}
}

func TestDroppedSeatHeldForGraceThenFreed(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena", MaxPlayers: 2})
	a, b := &sink{}, &sink{}
	pa := e.join(m, "ann", a)
	e.join(m, "bob", b)
	b.take(t)
	m.Leave(pa, a, protocol.LeaveDropped)
	e.step(m)
	// The seat is kept: a third player cannot take it.
	wait := e.joinAsync(m, "cy", &sink{})
	e.step(m)
	if _, err := wait(); !errors.Is(err, game.ErrMatchFull) {
		t.Fatalf("join during grace: %v, want ErrMatchFull", err)
	}
	// After the grace (10 s), ann's seat times out and is freed.
	e.stepBy(10*time.Second, m)
	e.step(m)
	var leaves []uint32
	for _, f := range b.take(t) {
		if f.Op == protocol.OpDelta && f.Events != nil {
			leaves = append(leaves, eventKinds(t, f.Events)...)
		}
	}
	if !containsSeq(leaves, uint32(protocol.EventLeave), uint32(protocol.EventLeave)) {
		t.Fatalf("want LEAVE(dropped) then LEAVE(timeout) events, got kinds %v", leaves)
	}
	if n := m.Info().Players; n != 1 {
		t.Fatalf("players after timeout: %d", n)
	}
	e.join(m, "cy", &sink{})
}

func TestRejoinWithinGrace(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	a := &sink{}
	pa := e.join(m, "ann", a)
	m.Leave(pa, a, protocol.LeaveDropped)
	e.step(m)
	a2 := &sink{}
	if pid := e.join(m, "ann", a2); pid != pa {
		t.Fatalf("rejoin got pid %d, want %d", pid, pa)
	}
	fs := a2.take(t)
	if len(fs) != 1 || fs[0].Op != protocol.OpJoined {
		t.Fatalf("rejoin: want JOINED, got %v", fs)
	}
	if !m.Info().Members[0].Connected {
		t.Fatal("member not connected after rejoin")
	}
}

func TestStaleLeaveFromReplacedConnectionIgnored(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	a, a2 := &sink{}, &sink{}
	pa := e.join(m, "ann", a)
	e.join(m, "ann", a2) // a second connection takes the seat over
	if len(a.detached) != 1 {
		t.Fatalf("old connection not detached: %v", a.detached)
	}
	m.Leave(pa, a, protocol.LeaveLeft) // the old connection's late leave
	e.step(m)
	if n := m.Info().Players; n != 1 {
		t.Fatalf("a stale leave removed the seat (players %d)", n)
	}
}

func TestInputsCappedPerTickAndCounted(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	a := &sink{}
	pa := e.join(m, "ann", a)
	a.take(t)
	accepted := 0
	for seq := uint32(1); seq <= 10; seq++ {
		if m.Input(pa, seq, 0, input(1, 0)) {
			accepted++
		}
	}
	if accepted != 4 || m.Dropped() != 6 {
		t.Fatalf("accepted %d, dropped %d; want 4 and 6 (MaxInputsTick 4)", accepted, m.Dropped())
	}
	e.step(m)
	var mi game.Mirror
	mi.Joined = true
	fs := a.take(t)
	if len(fs) != 1 || !fs[0].HasAck || fs[0].Ack != 4 {
		t.Fatalf("want one delta acking 4, got %+v", fs)
	}
}

func TestRelaySenderExcludedUnlessEcho(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "relay"})
	s := []*sink{{}, {}, {}}
	for i, x := range s {
		e.join(m, string(rune('a'+i)), x)
	}
	for _, x := range s {
		x.take(t)
	}
	msg := protocol.AppendString(nil, "hi")
	m.Message(1, nil, false, msg)
	e.step(m)
	if n := messages(t, s[0].take(t)); n != 0 {
		t.Fatalf("sender got its own message %d times", n)
	}
	for i := 1; i < 3; i++ {
		if n := messages(t, s[i].take(t)); n != 1 {
			t.Fatalf("member %d got %d messages", i, n)
		}
	}
	m.Message(1, []uint32{3}, true, msg)
	e.step(m)
	got := []int{messages(t, s[0].take(t)), messages(t, s[1].take(t)), messages(t, s[2].take(t))}
	if got[0] != 1 || got[1] != 0 || got[2] != 1 {
		t.Fatalf("targeted with echo: got %v, want [1 0 1]", got)
	}
	m.Message(2, nil, true, msg)
	e.step(m)
	for i, x := range s {
		if n := messages(t, x.take(t)); n != 1 {
			t.Fatalf("broadcast with echo: member %d got %d", i, n)
		}
	}
}

func TestPublishReachesMembers(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "relay"})
	a := &sink{}
	e.join(m, "ann", a)
	a.take(t)
	if err := m.Publish(protocol.AppendString(nil, "maintenance at 5")); err != nil {
		t.Fatal(err)
	}
	e.step(m)
	fs := a.take(t)
	if len(fs) != 1 || eventKinds(t, fs[0].Events)[0] != uint32(protocol.EventServer) {
		t.Fatalf("want a SERVER event, got %+v", fs)
	}
}

func TestEmptyMatchEnds(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	e.step(m)
	e.stepBy(61*time.Second, m)
	select {
	case <-m.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("empty match did not end")
	}
	if _, ok := e.reg.Get(m.ID()); ok {
		t.Fatal("ended match still registered")
	}
}

func TestStopSendsEndToMembers(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	a := &sink{}
	e.join(m, "ann", a)
	a.take(t)
	m.Stop(protocol.EndStopped)
	<-m.Done()
	fs := a.take(t)
	if len(fs) != 1 || fs[0].Op != protocol.OpEnd || fs[0].Reason != protocol.EndStopped {
		t.Fatalf("want END(stopped), got %+v", fs)
	}
	if len(a.detached) != 1 || a.detached[0] != protocol.LeaveEnded {
		t.Fatalf("detached %v", a.detached)
	}
}

// panicky panics in Step once it has a player.
type panicky struct{ game.Base }

func (p *panicky) Step(ctx *game.Ctx) {
	if ctx.PlayerCount() > 0 {
		panic("boom")
	}
}

func TestPanicEndsOnlyThatMatch(t *testing.T) {
	e := newEnv(t, game.GameType{Name: "panicky", New: func() game.Logic { return &panicky{} }})
	bad := e.create(game.CreateOptions{Game: "panicky"})
	good := e.create(game.CreateOptions{Game: "arena"})
	bs, gs := &sink{}, &sink{}
	wait := e.joinAsync(bad, "ann", bs)
	pg := e.join(good, "bob", gs)
	wait()
	<-bad.Done()
	fs := bs.take(t)
	last := fs[len(fs)-1]
	if last.Op != protocol.OpEnd || last.Reason != protocol.EndError {
		t.Fatalf("the panicking match's member got %+v, want END(error)", last)
	}
	gs.take(t)
	good.Input(pg, 1, 0, input(1, 1))
	e.step(good)
	if fs := gs.take(t); len(fs) != 1 || fs[0].Ack != 1 {
		t.Fatalf("the other match stopped working: %+v", fs)
	}
}

func TestReservationsHoldSeats(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena", MaxPlayers: 1})
	ctx := context.Background()
	errc := make(chan error, 1)
	go func() { errc <- m.Reserve(ctx, "ann", 30*time.Second) }()
	// Tick until the reservation is answered (it is queued by another goroutine; each step is a
	// whole synchronous tick, so this waits on the match, not on time).
	var err error
	for i := 0; ; i++ {
		e.step(m)
		select {
		case err = <-errc:
		default:
			if i < 1000 {
				continue
			}
			t.Fatal("the reservation was never answered")
		}
		break
	}
	if err != nil {
		t.Fatal(err)
	}
	wait := e.joinAsync(m, "bob", &sink{})
	e.step(m)
	if _, err := wait(); !errors.Is(err, game.ErrMatchFull) {
		t.Fatalf("bob took a reserved seat: %v", err)
	}
	e.join(m, "ann", &sink{})
}

func TestListFilters(t *testing.T) {
	e := newEnv(t)
	e.create(game.CreateOptions{Game: "arena", Label: map[string]string{"mode": "ffa"}})
	e.create(game.CreateOptions{Game: "arena", Label: map[string]string{"mode": "teams"}})
	e.create(game.CreateOptions{Game: "relay", Private: true})
	full := e.create(game.CreateOptions{Game: "relay", MaxPlayers: 1})
	e.join(full, "ann", &sink{})
	if n := len(e.reg.List(game.Filter{})); n != 3 {
		t.Fatalf("public matches %d, want 3", n)
	}
	if n := len(e.reg.List(game.Filter{Game: "arena", Label: map[string]string{"mode": "ffa"}})); n != 1 {
		t.Fatalf("arena ffa %d", n)
	}
	if n := len(e.reg.List(game.Filter{Game: "relay", HasFreeSeats: true})); n != 0 {
		t.Fatalf("relay with free seats %d", n)
	}
	if n := len(e.reg.List(game.Filter{IncludePrivate: true, Limit: 10})); n != 4 {
		t.Fatalf("all %d", n)
	}
}

func TestSpectatorGetsSnapshotThenDeltas(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	pa := e.join(m, "ann", &sink{})
	sp := &sink{}
	m.Watch(sp, 9)
	e.step(m)
	m.Input(pa, 1, 0, input(1, 0))
	e.step(m)
	var mi game.Mirror
	fs := sp.take(t)
	feed(t, &mi, fs)
	if fs[0].Op != protocol.OpJoined || fs[0].PID != 0 || len(fs) != 2 || mi.Checksum() != view(t, m, 0) {
		t.Fatalf("spectator frames %+v", fs)
	}
}

func TestCatalogRefusesUnknownGameAndBadParams(t *testing.T) {
	e := newEnv(t)
	if _, err := e.reg.Create(game.CreateOptions{Game: "chess"}); !errors.Is(err, game.ErrUnknownGame) {
		t.Fatalf("unknown game: %v", err)
	}
	params, _ := protocol.Marshal(map[string]any{"world": -5})
	if _, err := e.reg.Create(game.CreateOptions{Game: "arena", Params: params}); err == nil {
		t.Fatal("bad params accepted")
	}
}

func eventKinds(t *testing.T, events []byte) []uint32 {
	t.Helper()
	v, err := protocol.MsgpackToJSON(events)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint32
	for _, ev := range v.([]any) {
		out = append(out, uint32(ev.([]any)[0].(float64)))
	}
	return out
}

func messages(t *testing.T, fs []protocol.ServerMsg) int {
	n := 0
	for _, f := range fs {
		for _, raw := range [][]byte{f.Events, f.Direct} {
			if raw != nil {
				for _, k := range eventKinds(t, raw) {
					if k == uint32(protocol.EventMessage) {
						n++
					}
				}
			}
		}
	}
	return n
}

func containsSeq(xs []uint32, want ...uint32) bool {
	i := 0
	for _, x := range xs {
		if i < len(want) && x == want[i] {
			i++
		}
	}
	return i == len(want)
}
