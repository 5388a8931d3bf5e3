// Package tag is a complete game that is not built into the server (README "Write a game"):
// players run on a 500×500 field; whoever is "it" tags another by coming within 20 units, and
// that one is it (tags pause for a second after each). Input [dx, dy], each -1..1, moves up to
// 5 units. Event "tagged" {"by": pid, "it": pid}.
package tag

import (
	"math"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

const keyX, keyY, keyIt game.Key = 0, 1, 2 // field keys; Schema gives clients their names

var Type = game.GameType{Name: "tag", New: func() game.Logic { return &Tag{} },
	Defaults: game.Options{TickRate: 20, MaxPlayers: 8}}

type Tag struct {
	game.Base        // Init, Admit, chat relay and the rest: defaults
	it, pause uint32 // who is it; no tag before tick pause
}

func (t *Tag) Schema() []string { return []string{"x", "y", "it"} }

func (t *Tag) Join(ctx *game.Ctx, p *game.Player) {
	ctx.State().Spawn(game.EntityID(p.PID)).Set(keyX, game.Int(ctx.Rand().Int64N(501))).Set(keyY, game.Int(ctx.Rand().Int64N(501)))
	t.Leave(ctx, p, protocol.LeaveDropped) // makes p it if nobody is
}

func (t *Tag) Leave(ctx *game.Ctx, p *game.Player, why protocol.LeaveReason) {
	if why != protocol.LeaveDropped { // a dropped player keeps its place for the grace
		ctx.State().Remove(game.EntityID(p.PID))
	}
	ctx.State().Each(func(e *game.Entity) {
		if ctx.State().Get(game.EntityID(t.it)) == nil {
			t.makeIt(ctx, e)
		}
	})
}

func (t *Tag) Input(ctx *game.Ctx, p *game.Player, _ uint32, payload []byte) {
	var d [2]float64
	if e := ctx.State().Get(game.EntityID(p.PID)); e != nil && protocol.Unmarshal(payload, &d) == nil {
		to := func(k game.Key, v float64) game.Value {
			return game.Int(int64(math.Max(0, math.Min(500, float64(e.Field(k).Int())+math.Round(5*math.Max(-1, math.Min(1, v)))))))
		}
		e.Set(keyX, to(keyX, d[0])).Set(keyY, to(keyY, d[1]))
	}
}

func (t *Tag) Step(ctx *game.Ctx) {
	it := ctx.State().Get(game.EntityID(t.it))
	ctx.State().Each(func(e *game.Entity) {
		if it == nil || e == it || ctx.Tick() < t.pause || math.Hypot(float64(e.Field(keyX).Int()-it.Field(keyX).Int()),
			float64(e.Field(keyY).Int()-it.Field(keyY).Int())) > 20 {
			return
		}
		ctx.Emit("tagged", map[string]uint32{"by": t.it, "it": uint32(e.ID())})
		t.makeIt(ctx, e)
	})
}

func (t *Tag) makeIt(ctx *game.Ctx, e *game.Entity) {
	if old := ctx.State().Get(game.EntityID(t.it)); old != nil {
		old.Set(keyIt, game.Bool(false))
	}
	t.it, t.pause = uint32(e.ID()), ctx.Tick()+uint32(ctx.TickRate())
	e.Set(keyIt, game.Bool(true))
}
