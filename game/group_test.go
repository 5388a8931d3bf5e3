package game_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// testGroup records each DeliverGroup call (one per tick) and hands every recipient its frame,
// the way the cluster relay's receiving side does.
type testGroup struct {
	mu     sync.Mutex
	calls  int
	shared [][]byte
}

func (g *testGroup) DeliverGroup(shared []byte, tails []game.GroupTail) {
	g.mu.Lock()
	g.calls++
	g.shared = append(g.shared, shared)
	g.mu.Unlock()
	for _, t := range tails {
		t.Sink.(*groupSink).sink.Deliver(shared, t.Tail)
	}
}

type groupSink struct {
	sink
	g *testGroup
}

func (s *groupSink) Group() game.Group { return s.g }

// TestGroupDelivery: a match makes one delivery per tick to a group, whatever the number of its
// members, and each member's frame (shared + its tail) is byte for byte what a local member with
// the same seat would get; the shared part is the very same bytes a local member gets.
func TestGroupDelivery(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	g := &testGroup{}
	local := &sink{}
	remote := []*groupSink{{g: g}, {g: g}, {g: g}}
	lpid := e.join(m, "local", local)
	pids := make([]uint32, len(remote))
	for i, r := range remote {
		pids[i] = e.join(m, string(rune('a'+i)), r)
	}
	mirrors := make([]game.Mirror, len(remote))
	var lm game.Mirror
	feed(t, &lm, local.take(t))
	for i, r := range remote {
		feed(t, &mirrors[i], r.take(t))
	}
	g.mu.Lock()
	g.calls, g.shared = 0, nil
	g.mu.Unlock()
	const ticks = 20
	for k := 1; k <= ticks; k++ {
		m.Input(lpid, uint32(k), 0, input(1, 0))
		for _, pid := range pids {
			m.Input(pid, uint32(k), 0, input(0, 1))
		}
		e.step(m)
	}
	g.mu.Lock()
	calls := g.calls
	groupShared := g.shared
	g.mu.Unlock()
	if calls != ticks {
		t.Fatalf("group deliveries = %d in %d ticks, want one per tick", calls, ticks)
	}
	localShared := append([][]byte(nil), local.shared...)
	lf := local.take(t)
	if len(lf) != ticks {
		t.Fatalf("local frames = %d, want %d", len(lf), ticks)
	}
	for k := range localShared {
		if !bytes.Equal(localShared[k], groupShared[k]) || &localShared[k][0] != &groupShared[k][0] {
			t.Fatalf("tick %d: the group's shared part is not the local member's bytes", k)
		}
	}
	feed(t, &lm, lf)
	for i, r := range remote {
		fs := r.take(t)
		feed(t, &mirrors[i], fs)
		if got := fs[len(fs)-1]; got.Op != protocol.OpDelta || !got.HasAck || got.Ack != ticks {
			t.Fatalf("member %d: last frame %+v, want a delta acking %d", i, got, ticks)
		}
		if mirrors[i].Checksum() != view(t, m, pids[i]) {
			t.Fatalf("member %d: mirror differs from the server", i)
		}
	}
	if lm.Checksum() != view(t, m, lpid) {
		t.Fatal("local mirror differs from the server")
	}
}
