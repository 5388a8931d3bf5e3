// Package arena is the real-time benchmark game (shared/workloads.md): players move dots in a
// 1000×1000 world at 20 Hz. Each player is an entity (id = pid) with fields x and y (float32).
// An input [dx, dy] (each in [-1, 1], the vector capped at length 1) moves its player by
// speed × (dx, dy) in the tick it is applied, clamped to the world; the runtime caps inputs
// applied per player per tick (Options.MaxInputsTick), so sending faster does not move faster
// for long. A dropped player's dot stays until its seat times out.
package arena

import (
	"fmt"
	"math"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// Field keys.
const (
	KeyX game.Key = 0
	KeyY game.Key = 1
)

// Params are the optional creation parameters.
type Params struct {
	World float64 `msgpack:"world"` // side of the square world; default 1000
	Speed float64 `msgpack:"speed"` // units per input; default 5
}

// Type is the arena's catalog entry.
var Type = game.GameType{Name: "arena", New: func() game.Logic { return &Arena{} },
	Defaults: game.Options{TickRate: 20, MaxPlayers: 16}}

// Arena is the game logic.
type Arena struct {
	game.Base
	world, speed float64
}

func (a *Arena) Schema() []string { return []string{"x", "y"} }

func (a *Arena) Init(ctx *game.Ctx, params []byte) error {
	p := Params{World: 1000, Speed: 5}
	if len(params) > 0 {
		if err := protocol.Unmarshal(params, &p); err != nil {
			return err
		}
		if p.World <= 0 || p.World > 1e6 || p.Speed <= 0 || p.Speed > p.World {
			return game.Refuse("bad arena params")
		}
	}
	a.world, a.speed = p.World, p.Speed
	return nil
}

func (a *Arena) Join(ctx *game.Ctx, p *game.Player) {
	r := ctx.Rand()
	ctx.State().Spawn(game.EntityID(p.PID)).
		Set(KeyX, game.Float32(float32(r.Float64()*a.world))).
		Set(KeyY, game.Float32(float32(r.Float64()*a.world)))
}

func (a *Arena) Leave(ctx *game.Ctx, p *game.Player, reason protocol.LeaveReason) {
	if reason != protocol.LeaveDropped {
		ctx.State().Remove(game.EntityID(p.PID))
	}
}

func (a *Arena) Input(ctx *game.Ctx, p *game.Player, seq uint32, payload []byte) {
	dx, dy, ok := DecodeInput(payload)
	if !ok {
		return
	}
	e := ctx.State().Get(game.EntityID(p.PID))
	if e == nil {
		return
	}
	x := clamp(e.Field(KeyX).Float()+dx*a.speed, 0, a.world)
	y := clamp(e.Field(KeyY).Float()+dy*a.speed, 0, a.world)
	e.Set(KeyX, game.Float32(float32(x))).Set(KeyY, game.Float32(float32(y)))
}

// DecodeInput reads [dx, dy] without allocating; each is clamped to [-1, 1] and the vector's
// length capped at 1.
func DecodeInput(payload []byte) (dx, dy float64, ok bool) {
	r := protocol.NewReader(payload)
	n, err := r.ArrayLen()
	if err != nil || n < 2 {
		return 0, 0, false
	}
	if dx, err = r.Float(); err != nil {
		return 0, 0, false
	}
	if dy, err = r.Float(); err != nil {
		return 0, 0, false
	}
	dx, dy = clamp(dx, -1, 1), clamp(dy, -1, 1)
	if l := math.Hypot(dx, dy); l > 1 {
		dx, dy = dx/l, dy/l
	}
	return dx, dy, true
}

// EncodeInput is DecodeInput's inverse, for Go clients and the load generator.
func EncodeInput(b []byte, dx, dy float64) []byte {
	b = protocol.AppendArrayHeader(b, 2)
	b = protocol.AppendFloat64(b, dx)
	return protocol.AppendFloat64(b, dy)
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// checkpoint is the arena's own data in a match checkpoint (the dots are in the state).
type checkpoint struct {
	World float64 `msgpack:"world"`
	Speed float64 `msgpack:"speed"`
}

// Checkpoint implements game.Checkpointer.
func (a *Arena) Checkpoint() ([]byte, error) {
	return protocol.Marshal(checkpoint{World: a.world, Speed: a.speed})
}

// Restore implements game.Checkpointer.
func (a *Arena) Restore(data []byte) error {
	var c checkpoint
	if err := protocol.Unmarshal(data, &c); err != nil {
		return err
	}
	if c.World <= 0 || c.World > 1e6 || c.Speed <= 0 || c.Speed > c.World {
		return fmt.Errorf("arena: bad checkpoint (world %v, speed %v)", c.World, c.Speed)
	}
	a.world, a.speed = c.World, c.Speed
	return nil
}
