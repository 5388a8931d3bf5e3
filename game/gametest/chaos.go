package gametest

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// ChaosType registers Chaos under the name "chaos".
var ChaosType = game.GameType{Name: "chaos", New: func() game.Logic { return &Chaos{} }}

// ChaosIDs is the id space of Chaos' free entities: small, so that ids are reused.
const ChaosIDs = 12

// Chaos is a game for property tests of the sync path (the game package's, the cluster's
// relay and failover's). It changes its state at random every tick: spawns into a small id space (so an id is often
// removed and spawned again, sometimes within one tick), removals, public fields (keys 0–3),
// private fields (keys 4–5) and owners that change between the players, driven by the match's
// seeded Rand and by inputs. It exercises every path of the change tracker.
type Chaos struct {
	game.Base
	pids []uint32 // seated players, for owners
}

// Join gives each player an entity (1000 + pid) that it owns.
func (c *Chaos) Join(ctx *game.Ctx, p *game.Player) {
	c.pids = append(c.pids, p.PID)
	ctx.State().Spawn(1000+game.EntityID(p.PID)).SetOwner(p.PID).
		Set(0, game.Str(p.UserID)).SetPrivate(4, game.Int(int64(p.PID)))
}

// Leave removes the player's entity unless the player only dropped.
func (c *Chaos) Leave(ctx *game.Ctx, p *game.Player, r protocol.LeaveReason) {
	if r != protocol.LeaveDropped {
		ctx.State().Remove(1000 + game.EntityID(p.PID))
		c.pids = slices.DeleteFunc(c.pids, func(x uint32) bool { return x == p.PID })
	}
}

// Input records the input's seq (public) and payload (private) on the player's entity.
func (c *Chaos) Input(ctx *game.Ctx, p *game.Player, seq uint32, payload []byte) {
	if e := ctx.State().Get(1000 + game.EntityID(p.PID)); e != nil {
		e.Set(1, game.Uint(uint64(seq))).SetPrivate(5, game.Raw(payload))
	}
}

// owner is a random pid: a seated player, one that has left, or nobody.
func (c *Chaos) owner(r *rand.Rand) uint32 {
	if len(c.pids) == 0 || r.IntN(4) == 0 {
		return uint32(r.IntN(3)) // 0 (nobody) or a pid that may be gone
	}
	return c.pids[r.IntN(len(c.pids))]
}

func (c *Chaos) spawn(st *game.State, r *rand.Rand, id game.EntityID) {
	e := st.Spawn(id)
	if r.IntN(2) == 0 {
		e.Set(game.Key(r.IntN(4)), game.Float32(r.Float32()))
	}
	if pid := c.owner(r); pid > 0 {
		e.SetOwner(pid).SetPrivate(4, game.Int(r.Int64N(100)))
	}
}

// Step makes up to four random changes.
func (c *Chaos) Step(ctx *game.Ctx) {
	r, st := ctx.Rand(), ctx.State()
	for i := r.IntN(5); i > 0; i-- {
		id := game.EntityID(r.IntN(ChaosIDs) + 1)
		switch r.IntN(8) {
		case 0: // spawn, replacing an entity that has the id (remove + spawn in one tick)
			if st.Get(id) != nil {
				st.Remove(id)
			}
			c.spawn(st, r, id)
			switch r.IntN(4) {
			case 0:
				st.Remove(id) // created and removed in one tick
			case 1:
				st.Remove(id) // and spawned once more
				c.spawn(st, r, id)
			}
		case 1:
			st.Remove(id)
		case 2, 3:
			if e := st.Get(id); e != nil {
				e.Set(game.Key(r.IntN(4)), game.Int(r.Int64N(3))) // often unchanged: no-op sets
			}
		case 4:
			if e := st.Get(id); e != nil && e.Owner() != 0 {
				e.SetPrivate(5, game.Str(fmt.Sprint(r.IntN(3))))
			}
		case 5: // the entity changes hands (a card passed on), sometimes with a new private value
			if e := st.Get(id); e != nil {
				e.SetOwner(c.owner(r))
				if r.IntN(2) == 0 && e.Owner() != 0 {
					e.SetPrivate(4, game.Int(r.Int64N(100)))
				}
			}
		case 6: // a player's own entity changes hands too
			if len(c.pids) > 0 {
				if e := st.Get(1000 + game.EntityID(c.pids[r.IntN(len(c.pids))])); e != nil {
					e.SetOwner(c.owner(r))
				}
			}
		case 7:
			ctx.Emit("tick", r.IntN(10))
		}
	}
}

// ChaosCP is Chaos with checkpoints (a game.Checkpointer): its own data is the seated pids.
type ChaosCP struct{ Chaos }

// Checkpoint returns the seated pids.
func (c *ChaosCP) Checkpoint() ([]byte, error) { return protocol.Marshal(c.pids) }

// Restore takes the seated pids back.
func (c *ChaosCP) Restore(b []byte) error { return protocol.Unmarshal(b, &c.pids) }
