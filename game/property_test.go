package game_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// chaos changes its state at random every tick: spawns, removals, public fields (keys 0–3) and
// private fields (keys 4–5, owned by a random player), driven by the match's seeded Rand and by
// inputs. It exercises every path of the change tracker.
type chaos struct {
	game.Base
	next game.EntityID
}

func (c *chaos) Join(ctx *game.Ctx, p *game.Player) {
	c.next++
	ctx.State().Spawn(1000+game.EntityID(p.PID)).SetOwner(p.PID).
		Set(0, game.Str(p.UserID)).SetPrivate(4, game.Int(int64(p.PID)))
}

func (c *chaos) Leave(ctx *game.Ctx, p *game.Player, r protocol.LeaveReason) {
	if r != protocol.LeaveDropped {
		ctx.State().Remove(1000 + game.EntityID(p.PID))
	}
}

func (c *chaos) Input(ctx *game.Ctx, p *game.Player, seq uint32, payload []byte) {
	if e := ctx.State().Get(1000 + game.EntityID(p.PID)); e != nil {
		e.Set(1, game.Uint(uint64(seq))).SetPrivate(5, game.Raw(payload))
	}
}

func (c *chaos) Step(ctx *game.Ctx) {
	r, st := ctx.Rand(), ctx.State()
	for i := r.IntN(4); i > 0; i-- {
		switch r.IntN(6) {
		case 0:
			c.next++
			e := st.Spawn(c.next)
			if r.IntN(2) == 0 {
				e.Set(0, game.Float32(r.Float32()))
			}
			if pid := uint32(r.IntN(6)); pid > 0 {
				e.SetOwner(pid).SetPrivate(4, game.Int(r.Int64N(100)))
			}
			if r.IntN(5) == 0 {
				st.Remove(c.next) // created and removed in one tick
			}
		case 1:
			if c.next > 0 {
				st.Remove(game.EntityID(r.IntN(int(c.next)) + 1))
			}
		case 2, 3:
			if c.next > 0 {
				if e := st.Get(game.EntityID(r.IntN(int(c.next)) + 1)); e != nil {
					e.Set(game.Key(r.IntN(4)), game.Int(r.Int64N(3))) // often unchanged: no-op sets
				}
			}
		case 4:
			if c.next > 0 {
				if e := st.Get(game.EntityID(r.IntN(int(c.next)) + 1)); e != nil && e.Owner() != 0 {
					e.SetPrivate(5, game.Str(fmt.Sprint(r.IntN(3))))
				}
			}
		case 5:
			ctx.Emit("tick", r.IntN(10))
		}
	}
}

type client struct {
	user    string
	pid     uint32
	sink    *sink
	mirror  game.Mirror
	dropped bool
	seq     uint32
}

// TestPropertyMirrorsEqualServer drives random joins, leaves, drops, resumes (from the ring and
// beyond it), syncs, inputs and state changes, and checks after every tick that each connected
// client's mirror — built only from the frames it received — equals the server's view for it.
func TestPropertyMirrorsEqualServer(t *testing.T) {
	var catchups, snapshots int
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			c, s := runChaos(t, seed)
			catchups, snapshots = catchups+c, snapshots+s
		})
	}
	// The run must have gone through both resume paths, or it proved less than it claims.
	if catchups == 0 || snapshots == 0 {
		t.Fatalf("exercised %d catch-ups and %d snapshot fallbacks; want both > 0", catchups, snapshots)
	}
	t.Logf("%d catch-ups from the ring, %d snapshot fallbacks", catchups, snapshots)
}

func runChaos(t *testing.T, seed uint64) (int, int) {
	e := newEnv(t, game.GameType{Name: "chaos", New: func() game.Logic { return &chaos{} },
		Defaults: game.Options{MaxPlayers: 5, ReconnectGrace: time.Hour, EmptyTimeout: -1, RingDuration: time.Second}})
	m := e.create(game.CreateOptions{Game: "chaos", ID: fmt.Sprint("chaos-", seed)})
	r := rand.New(rand.NewPCG(seed, 99))
	var clients []*client
	users := 0
	resumes, snapshots := 0, 0
	var pending []func() (uint32, error)
	var pendingClients []*client
	for tick := 0; tick < 400; tick++ {
		switch op := r.IntN(10); {
		case op == 0 && len(clients) < 5:
			users++
			c := &client{user: fmt.Sprint("u", users), sink: &sink{}}
			pending = append(pending, e.joinAsync(m, c.user, c.sink))
			pendingClients = append(pendingClients, c)
		case op == 1 && len(clients) > 0:
			c := clients[r.IntN(len(clients))]
			if !c.dropped {
				if r.IntN(3) == 0 {
					m.Leave(c.pid, c.sink, protocol.LeaveLeft)
					clients = remove(clients, c)
				} else {
					m.Leave(c.pid, c.sink, protocol.LeaveDropped)
					c.dropped = true
				}
			}
		case op == 2 && len(clients) > 0:
			c := clients[r.IntN(len(clients))]
			if c.dropped { // resume on a new connection from the mirror's base
				c.sink, c.dropped = &sink{}, false
				m.Sync(c.pid, c.sink, 1, c.mirror.Epoch, c.mirror.Tick)
			} else { // a live SYNC (as after a suspected gap)
				m.Sync(c.pid, c.sink, 2, c.mirror.Epoch, c.mirror.Tick)
			}
		default:
			for _, c := range clients {
				if !c.dropped && r.IntN(2) == 0 {
					c.seq++
					m.Input(c.pid, c.seq, c.mirror.Tick, protocol.AppendUint(nil, uint64(r.IntN(1000))))
				}
			}
		}
		e.step(m)
		for i, wait := range pending {
			pid, err := wait()
			if err != nil {
				t.Fatalf("join: %v", err)
			}
			pendingClients[i].pid = pid
			clients = append(clients, pendingClients[i])
		}
		pending, pendingClients = pending[:0], pendingClients[:0]
		for _, c := range clients {
			if c.dropped {
				continue
			}
			frames := c.sink.take(t)
			for _, f := range frames {
				switch f.Op {
				case protocol.OpCatchup:
					resumes++
				case protocol.OpJoined:
					if c.mirror.Joined {
						snapshots++
					}
				}
			}
			feed(t, &c.mirror, frames)
			if got, want := c.mirror.Checksum(), view(t, m, c.pid); got != want {
				var pub, priv map[uint32]map[uint32]string
				m.Inspect(context.Background(), func(x *game.Ctx) { pub, priv = game.ViewForTest(x.State(), c.pid) })
				t.Fatalf("tick %d: %s (pid %d) mirror differs from the server:\nmirror %v %v\nserver %v %v",
					tick, c.user, c.pid, c.mirror.Public, c.mirror.Private, pub, priv)
			}
			if c.mirror.Ack != c.seq && c.seq > 0 {
				t.Fatalf("tick %d: %s acked %d, sent %d", tick, c.user, c.mirror.Ack, c.seq)
			}
		}
	}
	return resumes, snapshots
}

func remove(cs []*client, c *client) []*client {
	for i, x := range cs {
		if x == c {
			return append(cs[:i], cs[i+1:]...)
		}
	}
	return cs
}
