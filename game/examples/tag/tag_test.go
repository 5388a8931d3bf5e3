package tag_test

import (
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/examples/tag"
	"github.com/tickrelay/tickrelay/game/gametest"
)

func TestTagTick(t *testing.T) {
	h := gametest.New(t, tag.Type, nil)
	ann, bob := h.Join("ann"), h.Join("bob")
	if ann.Field(ann.PID, "it") != true || bob.Field(ann.PID, "it") != true {
		t.Fatal("the first player in is not it")
	}
	// Put them 30 units apart (tests may reach into the state), and wait out the pause.
	_ = h.Inspect(func(ctx *game.Ctx) {
		ctx.State().Get(game.EntityID(ann.PID)).Set(0, game.Int(100)).Set(1, game.Int(100))
		ctx.State().Get(game.EntityID(bob.PID)).Set(0, game.Int(130)).Set(1, game.Int(100))
	})
	h.Step(20)
	if bob.Field(bob.PID, "x") != int64(130) || len(bob.Events("tagged")) != 0 {
		t.Fatalf("bob at %v, or tagged from 30 units away", bob.Field(bob.PID, "x"))
	}
	ann.Input([]float64{1, 0})
	h.Step()
	if got := bob.Field(ann.PID, "x"); got != int64(105) {
		t.Fatalf("ann moved to %v, want 105", got)
	}
	ann.Input([]float64{2, 0}) // clamped to 1: 110, 20 units from bob
	h.Step()
	ev := bob.Events("tagged")
	if len(ev) != 1 || ev[0].Data.(map[string]any)["it"] != int64(bob.PID) {
		t.Fatalf("tagged events %+v", ev)
	}
	if bob.Field(bob.PID, "it") != true || ann.Field(ann.PID, "it") != false {
		t.Fatal("it did not pass to bob")
	}
	h.Step() // still 20 apart: no tag back during the pause
	if len(ann.Events("tagged")) != 1 {
		t.Fatal("ann did not see exactly the one tag")
	}
	// bob leaves while it: ann is it again.
	bob.Leave()
	h.Step()
	if ann.Sees(bob.PID) || ann.Field(ann.PID, "it") != true {
		t.Fatal("bob's entity stayed, or nobody is it")
	}
}
