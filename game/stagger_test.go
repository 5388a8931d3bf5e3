package game_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
)

// Matches created together must not tick at the same instant: their first ticks are spread
// across the interval (aligned tickers would burst every match's writes at once).
func TestTickersStaggeredAcrossTheInterval(t *testing.T) {
	cat := game.NewCatalog()
	cat.Register(game.GameType{Name: "g", New: func() game.Logic { return game.Base{} }})
	clock := game.NewManualClock()
	reg := game.NewRegistry(game.RegistryConfig{Catalog: cat, Clock: clock, Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { reg.Shutdown(t.Context()) })
	var ms []*game.Match
	for i := 0; i < 5; i++ {
		m, err := reg.Create(game.CreateOptions{Game: "g"})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	firstTick := make([]time.Duration, len(ms))
	for at := time.Millisecond; at <= 100*time.Millisecond; at += time.Millisecond {
		clock.Advance(time.Millisecond)
		for i, m := range ms {
			if firstTick[i] == 0 {
				m.Inspect(t.Context(), func(*game.Ctx) {})
				if m.Info().Tick > 0 {
					firstTick[i] = at
				}
			}
		}
	}
	seen := map[time.Duration]bool{}
	for i, at := range firstTick {
		if at == 0 || at > 100*time.Millisecond {
			t.Fatalf("match %d never ticked in two intervals", i)
		}
		if seen[at] {
			t.Fatalf("two matches first ticked at the same instant (%v): %v", at, firstTick)
		}
		seen[at] = true
	}
	t.Logf("first ticks at %v", firstTick)
}
