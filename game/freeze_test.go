package game_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// Freeze takes a checkpoint at the current tick and the match does not tick again (a hand-off
// goes on from exactly there); it still ends with Stop. A game without checkpoints refuses.
func TestFreezeStopsTicking(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	e.join(m, "u1", &sink{})
	e.step(m)
	e.step(m)
	c, err := m.Freeze(context.Background())
	if err != nil || len(c.Data) == 0 || c.Epoch != 1 {
		t.Fatalf("freeze: %+v %v", c, err)
	}
	for i := 0; i < 5; i++ {
		e.step(m)
	}
	var tick uint32
	if err := m.Inspect(context.Background(), func(x *game.Ctx) { tick = x.Tick() }); err != nil {
		t.Fatal(err)
	}
	if tick != c.Tick {
		t.Fatalf("the frozen match ticked on: tick %d, frozen at %d", tick, c.Tick)
	}
	// The checkpoint restores elsewhere at that tick.
	other := newEnv(t)
	r, err := other.reg.Restore(c.Data, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Inspect(context.Background(), func(x *game.Ctx) { tick = x.Tick() }); err != nil || tick != c.Tick {
		t.Fatalf("restored at tick %d (%v), want %d", tick, err, c.Tick)
	}
	m.Stop(protocol.EndMoved)
	<-m.Done()
	rl := e.create(game.CreateOptions{Game: "relay"})
	if _, err := rl.Freeze(context.Background()); !errors.Is(err, game.ErrNotRestorable) {
		t.Fatalf("freeze of a relay match: %v, want ErrNotRestorable", err)
	}
}
