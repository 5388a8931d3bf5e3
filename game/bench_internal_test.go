package game

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/tickrelay/tickrelay/protocol"
)

// discard is a sink that keeps nothing (a session writer would copy the tail and queue shared).
type discard struct{ n int }

func (d *discard) Deliver(shared, tail []byte)                   { d.n += len(shared) + len(tail) }
func (d *discard) Detached(string, uint32, protocol.LeaveReason) {}

// benchArena is a 20 Hz arena-like logic defined here to avoid an import cycle (game/arena
// imports game); it does the same work per input: decode [dx, dy], move, clamp.
type benchArena struct{ Base }

func (benchArena) Join(ctx *Ctx, p *Player) {
	ctx.State().Spawn(EntityID(p.PID)).Set(0, Float32(500)).Set(1, Float32(500))
}

func (benchArena) Input(ctx *Ctx, p *Player, seq uint32, payload []byte) {
	r := protocol.NewReader(payload)
	if n, err := r.ArrayLen(); err != nil || n < 2 {
		return
	}
	dx, _ := r.Float()
	dy, _ := r.Float()
	e := ctx.State().Get(EntityID(p.PID))
	x := min(max(e.Field(0).Float()+dx*5, 0), 1000)
	y := min(max(e.Field(1).Float()+dy*5, 0), 1000)
	e.Set(0, Float32(float32(x))).Set(1, Float32(float32(y)))
}

// BenchmarkArenaTick runs whole ticks (drain inputs, apply, step, encode once, deliver to each
// member) of a match with P players who each send one input per tick. Allocations per tick must
// not grow with P (the one allocation is the immutable shared delta).
func BenchmarkArenaTick(b *testing.B) {
	for _, players := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("players=%d", players), func(b *testing.B) {
			cat := NewCatalog()
			cat.Register(GameType{Name: "a", New: func() Logic { return benchArena{} }})
			reg := NewRegistry(RegistryConfig{Catalog: cat, Clock: NewManualClock(), Log: slog.New(slog.DiscardHandler)})
			m, _, err := reg.newMatch(CreateOptions{Game: "a", MaxPlayers: players})
			if err != nil {
				b.Fatal(err)
			}
			sinks := make([]*discard, players)
			for i := range sinks {
				sinks[i] = &discard{}
				if _, err := m.StartJoin(context.Background(), fmt.Sprint("u", i), "", nil, sinks[i], 0); err != nil {
					b.Fatal(err)
				}
			}
			m.tickOnce()
			payloads := [][]byte{{0x92, 0x01, 0x00}, {0x92, 0xff, 0x01}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for p := 1; p <= players; p++ {
					m.Input(uint32(p), uint32(i+1), 0, payloads[i&1])
				}
				m.tickOnce()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(players), "ns/player")
			b.ReportMetric(float64(sinks[0].n)/float64(b.N), "bytes/member/tick")
		})
	}
}

// benchGroup is a group (the cluster relay's shape) that counts what it is handed.
type benchGroup struct{ n, calls int }

func (g *benchGroup) DeliverGroup(shared []byte, tails []GroupTail) {
	g.calls++
	g.n += len(shared)
	for _, t := range tails {
		g.n += len(t.Tail)
	}
}

type groupedDiscard struct {
	discard
	g *benchGroup
}

func (s *groupedDiscard) Group() Group { return s.g }

// BenchmarkArenaTickGrouped is BenchmarkArenaTick with every member in one group (all of them
// relayed to another instance): one delivery per tick, and still one allocation per tick.
func BenchmarkArenaTickGrouped(b *testing.B) {
	for _, players := range []int{10, 100} {
		b.Run(fmt.Sprintf("players=%d", players), func(b *testing.B) {
			cat := NewCatalog()
			cat.Register(GameType{Name: "a", New: func() Logic { return benchArena{} }})
			reg := NewRegistry(RegistryConfig{Catalog: cat, Clock: NewManualClock(), Log: slog.New(slog.DiscardHandler)})
			m, _, err := reg.newMatch(CreateOptions{Game: "a", MaxPlayers: players})
			if err != nil {
				b.Fatal(err)
			}
			g := &benchGroup{}
			for i := 0; i < players; i++ {
				if _, err := m.StartJoin(context.Background(), fmt.Sprint("u", i), "", nil, &groupedDiscard{g: g}, 0); err != nil {
					b.Fatal(err)
				}
			}
			m.tickOnce()
			payloads := [][]byte{{0x92, 0x01, 0x00}, {0x92, 0xff, 0x01}}
			m.Input(1, 1, 0, payloads[0])
			m.tickOnce() // warm the group buffers
			g.calls = 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for p := 1; p <= players; p++ {
					m.Input(uint32(p), uint32(i+2), 0, payloads[i&1])
				}
				m.tickOnce()
			}
			b.StopTimer()
			if g.calls != b.N {
				b.Fatalf("group deliveries = %d in %d ticks", g.calls, b.N)
			}
		})
	}
}
