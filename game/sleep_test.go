package game_test

import (
	"context"
	"log/slog"
	"syscall"
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

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Empty matches on the real clock sleep: 500 of them cost next to no CPU, where the same 500
// ticking (TickWhenEmpty, the old behaviour) cost ~10% of a core (10,000 wake-ups a second);
// and a request wakes a sleeping match at once.
func TestEmptyMatchesSleep(t *testing.T) {
	measure := func(tickWhenEmpty bool) ([]*game.Match, time.Duration) {
		cat := game.NewCatalog()
		cat.Register(game.GameType{Name: "t", New: func() game.Logic { return &game.Base{} }, Defaults: game.Options{TickWhenEmpty: tickWhenEmpty}})
		reg := game.NewRegistry(game.RegistryConfig{Catalog: cat, Log: slog.New(slog.DiscardHandler)})
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = reg.Shutdown(ctx)
		})
		ms := make([]*game.Match, 500)
		for i := range ms {
			m, err := reg.Create(game.CreateOptions{Game: "t"})
			if err != nil {
				t.Fatal(err)
			}
			ms[i] = m
		}
		before := cpuTime(t)
		time.Sleep(time.Second) // the measurement window
		return ms, cpuTime(t) - before
	}
	ticking, tickingCPU := measure(true)
	for _, m := range ticking {
		m.Stop(protocol.EndStopped)
		<-m.Done()
	}
	ms, used := measure(false)
	t.Logf("500 empty matches, 1 s: %v of CPU ticking, %v sleeping", tickingCPU, used)
	for _, m := range ms {
		if m.Sleeps() == 0 || m.Info().Tick > 1 {
			t.Fatalf("an empty match did not sleep: %d sleeps, tick %d", m.Sleeps(), m.Info().Tick)
		}
	}
	if used > 50*time.Millisecond {
		t.Fatalf("500 sleeping matches used %v of CPU in 1 s", used)
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
