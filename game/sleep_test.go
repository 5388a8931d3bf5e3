package game_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// A match nobody ever joined ends after UnusedTimeout; one that had a player keeps the longer
// EmptyTimeout after it empties.
func TestUnusedTimeoutBeforeFirstPlayer(t *testing.T) {
	e := newEnv(t, game.GameType{Name: "t", New: func() game.Logic { return &game.Base{} },
		Defaults: game.Options{UnusedTimeout: 2 * time.Second, EmptyTimeout: 30 * time.Second}})
	unused := e.create(game.CreateOptions{Game: "t"})
	used := e.create(game.CreateOptions{Game: "t"})
	s := &sink{}
	pid := e.join(used, "ann", s)
	used.Leave(pid, s, protocol.LeaveLeft)
	e.stepBy(3*time.Second, unused, used)
	select {
	case <-unused.Done():
	default:
		t.Fatal("a match nobody joined is still running after its 2 s unused timeout")
	}
	select {
	case <-used.Done():
		t.Fatal("a match that had a player ended at the unused timeout, not the empty one")
	default:
	}
	e.stepBy(30*time.Second, used)
	<-used.Done()
}

// On the real clock a match created with no reservation and never joined (a backend's
// creation) sleeps from its start; it must still end at its unused timeout. It slept forever.
func TestUnusedMatchWithoutReservationEndsAsleep(t *testing.T) {
	cat := game.NewCatalog()
	cat.Register(game.GameType{Name: "t", New: func() game.Logic { return &game.Base{} },
		Defaults: game.Options{UnusedTimeout: 100 * time.Millisecond}})
	reg := game.NewRegistry(game.RegistryConfig{Catalog: cat, Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = reg.Shutdown(ctx)
	})
	m, err := reg.Create(game.CreateOptions{Game: "t"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a match created with no reservation and never joined is still running 10 s after its 100 ms unused timeout")
	}
	if e, ok := reg.Ended(m.ID()); !ok || e.Reason != protocol.EndEmpty {
		t.Fatalf("ended %+v (found %v), want reason EMPTY", e, ok)
	}
}

// Empty matches on the real clock sleep: their tick stops while a match that ticks when empty
// (TickWhenEmpty, the old behaviour of every match) goes on; and a request wakes a sleeping match
// at once. What sleeping saves in CPU is measured by the bench (bench/RESULTS.md, idle cost),
// not here.
func TestEmptyMatchesSleep(t *testing.T) {
	cat := game.NewCatalog()
	cat.Register(game.GameType{Name: "t", New: func() game.Logic { return &game.Base{} }})
	cat.Register(game.GameType{Name: "ticking", New: func() game.Logic { return &game.Base{} }, Defaults: game.Options{TickWhenEmpty: true}})
	reg := game.NewRegistry(game.RegistryConfig{Catalog: cat, Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = reg.Shutdown(ctx)
	})
	create := func(g string) *game.Match {
		m, err := reg.Create(game.CreateOptions{Game: g})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ms := make([]*game.Match, 500)
	for i := range ms {
		ms[i] = create("t")
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		asleep := 0
		for _, m := range ms {
			if m.Sleeps() > 0 {
				asleep++
			}
		}
		if asleep == len(ms) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d empty matches went to sleep within 10 s", asleep, len(ms))
		}
		time.Sleep(10 * time.Millisecond) // polling the matches' counters
	}
	ticks := make([]uint32, len(ms))
	for i, m := range ms {
		ticks[i] = m.Info().Tick
	}
	// The reference: a match that ticks when empty. Once it has ticked 20 more times (a second
	// at 20 Hz), no sleeping match may have ticked at all.
	ref := create("ticking")
	for deadline := time.Now().Add(10 * time.Second); ref.Info().Tick < 20; {
		if time.Now().After(deadline) {
			t.Fatalf("the ticking reference match is at tick %d after 10 s", ref.Info().Tick)
		}
		time.Sleep(10 * time.Millisecond) // polling the reference's tick
	}
	for i, m := range ms {
		if got := m.Info().Tick; got != ticks[i] || m.Sleeps() != 1 {
			t.Fatalf("an empty match ticked while asleep: tick %d -> %d, %d sleeps", ticks[i], got, m.Sleeps())
		}
	}
	// A request wakes the match and is answered within about a tick.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := ms[7].Reserve(ctx, "ann", time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("a sleeping match took %v to answer a reservation", d)
	}
	if err := ms[7].Inspect(ctx, func(*game.Ctx) {}); err != nil { // the tick that answered has published its info
		t.Fatal(err)
	}
	if ms[7].Info().Reserved != 1 {
		t.Fatalf("reserved %d", ms[7].Info().Reserved)
	}
}
