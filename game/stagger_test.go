package game_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// slotEnv is a registry with TickSlots on a manual clock and a helper that finds, in 1 ms steps,
// the instant (from the clock's start) of each match's first tick.
type slotEnv struct {
	t     *testing.T
	clock *game.ManualClock
	reg   *game.Registry
	start time.Time
}

func newSlotEnv(t *testing.T, slots int) *slotEnv {
	cat := game.NewCatalog()
	cat.Register(game.GameType{Name: "g", New: func() game.Logic { return game.Base{} }, Defaults: game.Options{TickWhenEmpty: true}})
	clock := game.NewManualClock()
	reg := game.NewRegistry(game.RegistryConfig{Catalog: cat, Clock: clock, TickSlots: slots, Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { reg.Shutdown(t.Context()) })
	return &slotEnv{t: t, clock: clock, reg: reg, start: clock.Now()}
}

func (e *slotEnv) create(n int) []*game.Match {
	var ms []*game.Match
	for range n {
		m, err := e.reg.Create(game.CreateOptions{Game: "g"})
		if err != nil {
			e.t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return ms
}

// firstTicks steps the clock by 1 ms for up to `span` and returns, per match, the instant of its
// first tick since the clock's start (or since the ticks it had before this call).
func (e *slotEnv) firstTicks(ms []*game.Match, span time.Duration) []time.Duration {
	e.t.Helper()
	before := make([]uint32, len(ms))
	for i, m := range ms {
		before[i] = m.Info().Tick
	}
	first := make([]time.Duration, len(ms))
	for at := time.Millisecond; at <= span; at += time.Millisecond {
		e.clock.Advance(time.Millisecond)
		for i, m := range ms {
			if first[i] == 0 {
				m.Inspect(e.t.Context(), func(*game.Ctx) {})
				if m.Info().Tick > before[i] {
					first[i] = e.clock.Now().Sub(e.start)
				}
			}
		}
	}
	for i, at := range first {
		if at == 0 {
			e.t.Fatalf("match %d did not tick within %v: %v", i, span, first)
		}
	}
	return first
}

// Matches created together must not all tick at the same instant (aligned tickers would burst
// every match's writes at once): they are spread evenly over the interval's TickSlots slots,
// each slot d/TickSlots from the next, and the matches of one slot tick together (under the
// real clock one timer serves them all).
func TestTickersSpreadEvenlyOverTheSlots(t *testing.T) {
	const slots, perSlot = 5, 3
	const d = 50 * time.Millisecond // arena-like 20 Hz: game.Base's default rate
	e := newSlotEnv(t, slots)
	ms := e.create(slots * perSlot)
	if got := time.Second / time.Duration(ms[0].Info().TickRate); got != d {
		t.Fatalf("tick interval %v, want %v", got, d)
	}
	first := e.firstTicks(ms, 2*d)
	count := map[time.Duration]int{}
	for i, at := range first {
		if at < d || at >= 2*d {
			t.Fatalf("match %d first ticked at %v: want within [d, 2d) of its creation: %v", i, at, first)
		}
		if at%(d/slots) != 0 {
			t.Fatalf("match %d first ticked at %v, between slots (every %v): %v", i, at, d/slots, first)
		}
		count[at]++
	}
	if len(count) != slots {
		t.Fatalf("first ticks at %d instants, want %d slots: %v", len(count), slots, first)
	}
	for at, n := range count {
		if n != perSlot {
			t.Fatalf("%d matches on the slot at %v, want %d each: %v", n, at, perSlot, first)
		}
	}
	// A match created later, between slot instants, still ticks on the grid, on a slot of its
	// own until every slot has as many as the others: the least loaded one.
	e.clock.Advance(3 * time.Millisecond)
	late := e.create(slots)
	lateFirst := e.firstTicks(late, 3*d)
	seen := map[time.Duration]bool{}
	for i, at := range lateFirst {
		if at%(d/slots) != 0 {
			t.Fatalf("late match %d ticked at %v, off the slot grid: %v", i, at, lateFirst)
		}
		if seen[at%d] {
			t.Fatalf("two late matches on the same slot though every slot had %d: %v", perSlot, lateFirst)
		}
		seen[at%d] = true
	}
	// A match that ends frees its slot: the next one created takes that slot.
	freed := first[0] % d
	ms[0].Stop(protocol.EndStopped)
	<-ms[0].Done()
	next := e.create(1)
	if at := e.firstTicks(next, 3*d)[0]; at%d != freed {
		t.Fatalf("new match ticks at %v (slot %v), want the freed slot %v", at, at%d, freed)
	}
}

// TickSlots < 0 is the old contract: every match a ticker of its own at a golden-ratio phase,
// no two matches created together at the same instant.
func TestTickersStaggeredAcrossTheInterval(t *testing.T) {
	e := newSlotEnv(t, -1)
	ms := e.create(5)
	first := e.firstTicks(ms, 100*time.Millisecond)
	seen := map[time.Duration]bool{}
	for _, at := range first {
		if seen[at] {
			t.Fatalf("two matches first ticked at the same instant (%v): %v", at, first)
		}
		seen[at] = true
	}
}
