package gametest_test

import (
	"errors"
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/gametest"
	"github.com/tickrelay/tickrelay/protocol"
)

// countdown ends after params.n ticks with the result {"n": n}; n < 0 is refused.
type countdown struct {
	game.Base
	n int64
}

var countdownType = game.GameType{Name: "countdown", New: func() game.Logic { return &countdown{} }}

func (c *countdown) Init(_ *game.Ctx, params []byte) error {
	var p struct {
		N int64 `msgpack:"n"`
	}
	if err := protocol.Unmarshal(params, &p); err != nil || p.N < 0 {
		return game.Refuse("n must be ≥ 0")
	}
	c.n = p.N
	return nil
}

func (c *countdown) Step(ctx *game.Ctx) {
	if int64(ctx.Tick()) >= c.n {
		ctx.End(map[string]int64{"n": c.n})
	}
	_ = ctx.Emit("tick", ctx.Tick())
}

func TestHarnessRefusalEventsAndEnd(t *testing.T) {
	if _, err := gametest.Create(t, countdownType, map[string]int{"n": -1}); !errors.Is(err, game.ErrInit) {
		t.Fatalf("a refused Init: %v", err)
	}
	h := gametest.New(t, countdownType, map[string]int{"n": 5})
	p := h.Join("ann") // tick 1
	h.Step(2)
	ev := p.Events("tick")
	if len(ev) != 2 || ev[0].Data != int64(2) || ev[1].Data != int64(3) {
		t.Fatalf("tick events %+v", ev)
	}
	if _, _, ended := h.Ended(); ended {
		t.Fatal("ended early")
	}
	h.Step(5)
	reason, result, ended := h.Ended()
	var r map[string]int64
	if !ended || reason != protocol.EndFinished || protocol.Unmarshal(result, &r) != nil || r["n"] != 5 {
		t.Fatalf("end: %v %v %x", ended, reason, result)
	}
}
