package game_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/gametest"
	"github.com/tickrelay/tickrelay/protocol"
)

type client struct {
	user      string
	pid       uint32
	sink      *sink
	mirror    game.Mirror
	dropped   bool
	seq       uint32
	lose      bool // drop the next DELTA, as a lossy link would
	behind    bool // a DELTA was lost and no later frame has shown the gap yet
	repairing bool // a gap was seen and a SYNC sent: wait for its CATCHUP or JOINED
}

// chaosStats counts the paths a run went through, so the test can insist on each.
type chaosStats struct {
	catchups, snapshots, gaps, stale, expired, replaced int
}

// TestPropertyMirrorsEqualServer drives random joins, leaves, drops, resumes (from the ring and
// beyond it, and after the seat expired), takeovers by a second connection, lost deltas
// repaired by SYNC, inputs and state changes, and checks after every tick that each connected
// client's mirror — built only from the frames it received — equals the server's view for it.
func TestPropertyMirrorsEqualServer(t *testing.T) {
	var sum chaosStats
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := runChaos(t, seed, nil)
			sum.catchups += s.catchups
			sum.snapshots += s.snapshots
			sum.gaps += s.gaps
			sum.stale += s.stale
			sum.expired += s.expired
			sum.replaced += s.replaced
		})
	}
	// The runs must have gone through every path, or they proved less than they claim.
	if sum.catchups == 0 || sum.snapshots == 0 || sum.gaps == 0 || sum.stale == 0 || sum.expired == 0 || sum.replaced == 0 {
		t.Fatalf("exercised %+v; want each > 0", sum)
	}
	t.Logf("%+v", sum)
}

// chaosRecorder sees every frame a client received (nil: lost) and its mirror afterwards; the
// stream-vector generator uses it.
type chaosRecorder interface {
	frame(user string, raw []byte, m *protocol.ServerMsg, mi *game.Mirror, result string)
}

func runChaos(t *testing.T, seed uint64, rec chaosRecorder) chaosStats {
	return runChaosFor(t, seed, 500, rec)
}

func runChaosFor(t *testing.T, seed uint64, ticks int, rec chaosRecorder) chaosStats {
	e := newEnv(t, game.GameType{Name: "chaos", New: func() game.Logic { return &gametest.Chaos{} },
		Defaults: game.Options{MaxPlayers: 5, ReconnectGrace: 2 * time.Second, EmptyTimeout: -1, RingDuration: time.Second}})
	m := e.create(game.CreateOptions{Game: "chaos", ID: fmt.Sprint("chaos-", seed)})
	r := rand.New(rand.NewPCG(seed, 99))
	dup := rand.New(rand.NewPCG(seed, 7)) // which frames arrive twice (a duplicate is ignored)
	var clients []*client
	var st chaosStats
	users := 0
	type pendingJoin struct {
		c    *client
		wait func() (uint32, error)
		old  *sink // a takeover: the connection that loses the seat
	}
	var pending []pendingJoin
	for tick := 0; tick < ticks; tick++ {
		switch op := r.IntN(12); {
		case op == 0 && len(clients) < 5:
			users++
			c := &client{user: fmt.Sprint("u", users), sink: &sink{}}
			pending = append(pending, pendingJoin{c: c, wait: e.joinAsync(m, c.user, c.sink)})
		case op == 1 && len(clients) > 0:
			c := clients[r.IntN(len(clients))]
			if !c.dropped {
				if r.IntN(4) == 0 {
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
			} else if !c.repairing { // a live SYNC (as after a suspected gap)
				m.Sync(c.pid, c.sink, 2, c.mirror.Epoch, c.mirror.Tick)
			}
		case op == 3 && len(clients) > 0:
			c := clients[r.IntN(len(clients))]
			if !c.dropped && r.IntN(3) == 0 { // the same user on a second connection takes the seat
				nc := &client{user: c.user, sink: &sink{}, seq: c.seq}
				pending = append(pending, pendingJoin{c: nc, wait: e.joinAsync(m, c.user, nc.sink), old: c.sink})
				clients = remove(clients, c)
			} else if !c.dropped {
				c.lose = true
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
		for _, p := range pending {
			pid, err := p.wait()
			if err != nil {
				t.Fatalf("join: %v", err)
			}
			p.c.pid = pid
			clients = append(clients, p.c)
			if p.old != nil {
				if got := p.old.detachedReasons(); !slices.Equal(got, []protocol.LeaveReason{protocol.LeaveReplaced}) {
					t.Fatalf("tick %d: the replaced connection was detached with %v, want [REPLACED]", tick, got)
				}
				st.replaced++
			}
		}
		pending = pending[:0]
		for _, c := range slices.Clone(clients) {
			if c.dropped {
				continue
			}
			if d := c.sink.detachedReasons(); len(d) > 0 {
				// Only a resume whose seat had expired is detached here: it got its answer.
				if !slices.Equal(d, []protocol.LeaveReason{protocol.LeaveTimeout}) {
					t.Fatalf("tick %d: %s detached with %v", tick, c.user, d)
				}
				st.expired++
				clients = remove(clients, c)
				continue
			}
			raws := c.sink.takeRaw()
			for _, raw := range raws {
				follow(t, c, raw, &st, rec, m)
				if tick := c.mirror.Tick; dup.IntN(12) == 0 && raw[1] == byte(protocol.OpDelta) && !c.repairing && !c.behind {
					follow(t, c, raw, &st, rec, m) // delivered twice: stale now
					if c.mirror.Tick != tick {
						t.Fatalf("a duplicate DELTA moved the mirror from %d to %d", tick, c.mirror.Tick)
					}
				}
			}
			if c.repairing || c.behind {
				continue
			}
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
	return st
}

// follow applies one received frame as a client does: a lost DELTA is skipped, a gap sends one
// SYNC and nothing applies until its answer, duplicates are ignored.
func follow(t *testing.T, c *client, raw []byte, st *chaosStats, rec chaosRecorder, m *game.Match) {
	t.Helper()
	var msg protocol.ServerMsg
	if err := protocol.DecodeServer(raw, &msg); err != nil {
		t.Fatalf("frame %x: %v", raw, err)
	}
	if msg.Op == protocol.OpDelta && c.lose {
		c.lose, c.behind = false, true
		return // never arrived
	}
	result := "ok"
	switch msg.Op {
	case protocol.OpJoined:
		if c.mirror.Joined {
			st.snapshots++
		}
		if err := c.mirror.ApplyJoined(&msg); err != nil {
			t.Fatal(err)
		}
		c.repairing, c.behind = false, false
	case protocol.OpCatchup:
		st.catchups++
		if err := c.mirror.ApplyCatchup(&msg); err != nil {
			t.Fatalf("%s req %d: %v", c.user, msg.Req, err)
		}
		c.repairing, c.behind = false, false
	case protocol.OpDelta:
		err := c.mirror.ApplyDelta(&msg)
		switch {
		case errors.Is(err, game.ErrStale):
			result = "stale"
			st.stale++
		case errors.Is(err, game.ErrGap):
			result = "gap"
			st.gaps++
			if !c.repairing {
				c.repairing, c.behind = true, false
				m.Sync(c.pid, c.sink, 3, c.mirror.Epoch, c.mirror.Tick)
			}
		case err != nil:
			t.Fatal(err)
		}
	}
	if rec != nil {
		rec.frame(c.user, raw, &msg, &c.mirror, result)
	}
}

func remove(cs []*client, c *client) []*client {
	for i, x := range cs {
		if x == c {
			return append(cs[:i], cs[i+1:]...)
		}
	}
	return cs
}
