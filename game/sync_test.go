package game_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// blank is a game with no logic of its own: tests change its state through Match.Inspect.
var blank = game.GameType{Name: "blank", New: func() game.Logic { return &game.Base{} },
	Defaults: game.Options{ReconnectGrace: time.Second, EmptyTimeout: -1}}

// edit changes m's state between ticks; the change goes out with the next tick's delta.
func edit(t *testing.T, m *game.Match, fn func(*game.State)) {
	t.Helper()
	if err := m.Inspect(context.Background(), func(c *game.Ctx) { fn(c.State()) }); err != nil {
		t.Fatal(err)
	}
}

// mirrored feeds a sink's frames to a mirror and checks it equals the server's view.
func mirrored(t *testing.T, m *game.Match, s *sink, mi *game.Mirror, pid uint32) []protocol.ServerMsg {
	t.Helper()
	fs := s.take(t)
	feed(t, mi, fs)
	if got, want := mi.Checksum(), view(t, m, pid); got != want {
		t.Fatalf("mirror differs from the server: %v %v", mi.Public, mi.Private)
	}
	return fs
}

func TestRemoveThenSpawnSameIDInOneTick(t *testing.T) {
	e := newEnv(t, blank)
	m := e.create(game.CreateOptions{Game: "blank"})
	a := &sink{}
	pa := e.join(m, "ann", a)
	edit(t, m, func(st *game.State) { st.Spawn(1).Set(0, game.Int(1)).Set(1, game.Int(2)) })
	e.step(m)
	var mi game.Mirror
	mirrored(t, m, a, &mi, pa)
	// The old entity goes and a new one with the same id (and other fields) takes its place.
	edit(t, m, func(st *game.State) {
		st.Remove(1)
		st.Spawn(1).Set(1, game.Int(3))
	})
	e.step(m)
	fs := mirrored(t, m, a, &mi, pa)
	if len(fs) != 1 || fs[0].Op != protocol.OpDelta {
		t.Fatalf("want one DELTA, got %+v", fs)
	}
	changes, err := protocol.MsgpackToJSON(fs[0].Changes)
	if err != nil {
		t.Fatal(err)
	}
	// [added, updated, removed]: 1 is in both added and removed.
	want := `[{"map":[[1,{"map":[[1,3]]}]]},null,[1]]`
	if got := jsonString(t, changes); got != want {
		t.Fatalf("changes %s, want %s", got, want)
	}
	if len(mi.Public[1]) != 1 {
		t.Fatalf("the new entity kept the old one's fields: %v", mi.Public[1])
	}
}

func TestOwnerChangeDropsPrivateFields(t *testing.T) {
	e := newEnv(t, blank)
	m := e.create(game.CreateOptions{Game: "blank"})
	a, b := &sink{}, &sink{}
	pa := e.join(m, "ann", a)
	pb := e.join(m, "bob", b)
	edit(t, m, func(st *game.State) { st.Spawn(7).SetOwner(pa).SetPrivate(4, game.Str("ace")) })
	e.step(m)
	var ma, mb game.Mirror
	mirrored(t, m, a, &ma, pa)
	mirrored(t, m, b, &mb, pb)
	if ma.Private[7] == nil {
		t.Fatal("ann does not see her card")
	}
	// The card passes to bob: ann's DELTA tells her to drop it, bob's carries it.
	edit(t, m, func(st *game.State) { st.Get(7).SetOwner(pb) })
	e.step(m)
	fs := mirrored(t, m, a, &ma, pa)
	mirrored(t, m, b, &mb, pb)
	if ma.Private[7] != nil || mb.Private[7] == nil {
		t.Fatalf("after the pass: ann %v, bob %v", ma.Private, mb.Private)
	}
	if got := jsonString(t, mustJSON(t, fs[0].Private)); got != `{"map":[[7,null]]}` {
		t.Fatalf("ann's private %s", got)
	}
	// Bob drops; the card comes back to ann and goes to a third owner while he is away. His
	// resume from before that cannot be replayed from the ring (tails are not kept): snapshot.
	m.Leave(pb, b, protocol.LeaveDropped)
	e.step(m)
	edit(t, m, func(st *game.State) { st.Get(7).SetOwner(99) })
	e.step(m)
	b2 := &sink{}
	m.Sync(pb, b2, 5, mb.Epoch, mb.Tick)
	e.step(m)
	fs = mirrored(t, m, b2, &mb, pb)
	if fs[0].Op != protocol.OpJoined || mb.Private[7] != nil {
		t.Fatalf("resume after losing the card: %v, private %v", fs[0].Op, mb.Private)
	}
}

func TestSyncForAnExpiredSeatIsAnswered(t *testing.T) {
	e := newEnv(t, blank)
	m := e.create(game.CreateOptions{Game: "blank"})
	a := &sink{}
	pa := e.join(m, "ann", a)
	m.Leave(pa, a, protocol.LeaveDropped)
	e.step(m)
	e.stepBy(time.Second, m) // the reconnect grace runs out
	a2 := &sink{}
	if err := m.Sync(pa, a2, 3, 1, 0); err != nil {
		t.Fatal(err)
	}
	e.step(m)
	if got := a2.detachedReasons(); !slices.Equal(got, []protocol.LeaveReason{protocol.LeaveTimeout}) {
		t.Fatalf("a resume of an expired seat: detached %v, want [TIMEOUT]", got)
	}
}

func TestSecondConnectionReplacesTheFirst(t *testing.T) {
	e := newEnv(t, blank)
	m := e.create(game.CreateOptions{Game: "blank"})
	a, a2 := &sink{}, &sink{}
	e.join(m, "ann", a)
	e.join(m, "ann", a2)
	if got := a.detachedReasons(); !slices.Equal(got, []protocol.LeaveReason{protocol.LeaveReplaced}) {
		t.Fatalf("first connection detached with %v, want [REPLACED]", got)
	}
}

func TestRequestsQueuedAtTheEndAreAnswered(t *testing.T) {
	e := newEnv(t, blank)
	m := e.create(game.CreateOptions{Game: "blank"})
	a := &sink{}
	pa := e.join(m, "ann", a)
	m.Leave(pa, a, protocol.LeaveDropped)
	e.step(m)
	// A watch (an SSE stream opening) and a resume's sync are queued, then the match stops
	// before its next tick: both get END.
	w, a2 := &sink{}, &sink{}
	if err := m.Watch(w, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Sync(pa, a2, 4, 1, 0); err != nil {
		t.Fatal(err)
	}
	m.Stop(protocol.EndStopped)
	<-m.Done()
	for name, s := range map[string]*sink{"watch": w, "sync": a2} {
		fs := s.take(t)
		if len(fs) != 1 || fs[0].Op != protocol.OpEnd {
			t.Fatalf("%s: want END, got %+v", name, fs)
		}
		if got := s.detachedReasons(); !slices.Equal(got, []protocol.LeaveReason{protocol.LeaveEnded}) {
			t.Fatalf("%s: detached %v", name, got)
		}
	}
	// Once it has ended, requests are refused at once.
	if err := m.Watch(&sink{}, 0); !errors.Is(err, game.ErrMatchEnded) {
		t.Fatalf("watch after the end: %v", err)
	}
	if err := m.Sync(pa, &sink{}, 5, 1, 0); !errors.Is(err, game.ErrMatchEnded) {
		t.Fatalf("sync after the end: %v", err)
	}
}

func mustJSON(t *testing.T, b []byte) any {
	t.Helper()
	v, err := protocol.MsgpackToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A field keeps its kind: a public value cannot be taken back from the other players' mirrors,
// so a game that makes it private (or a private field public) has a bug, and its match ends.
func TestFieldKindChangeEndsTheMatch(t *testing.T) {
	for name, change := range map[string]func(*game.Entity){
		"public to private": func(e *game.Entity) { e.Set(0, game.Int(1)).SetPrivate(0, game.Int(2)) },
		"private to public": func(e *game.Entity) { e.SetPrivate(4, game.Int(1)).Set(4, game.Int(2)) },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, blank)
			m := e.create(game.CreateOptions{Game: "blank"})
			err := m.Inspect(context.Background(), func(c *game.Ctx) { change(c.State().Spawn(1).SetOwner(1)) })
			if !errors.Is(err, game.ErrMatchEnded) {
				t.Fatalf("Inspect: %v, want the match ended by the panic", err)
			}
			<-m.Done()
		})
	}
}
