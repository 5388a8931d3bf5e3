package game_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/game/duel"
	"github.com/tickrelay/tickrelay/game/gametest"
	"github.com/tickrelay/tickrelay/protocol"
)

// cpSink keeps every checkpoint offered, by tick.
type cpSink struct {
	mu      sync.Mutex
	byTick  map[uint32]game.MatchCheckpoint
	forgot  []string
	failed  int
	offered int
}

func (s *cpSink) Offer(c game.MatchCheckpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offered++
	if c.Err != nil {
		s.failed++
		return
	}
	if s.byTick == nil {
		s.byTick = map[uint32]game.MatchCheckpoint{}
	}
	s.byTick[c.Tick] = c
}

func (s *cpSink) Forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgot = append(s.forgot, id)
}

func (s *cpSink) at(t *testing.T, tick uint32) game.MatchCheckpoint {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byTick[tick]
	if !ok {
		t.Fatalf("no checkpoint of tick %d (offered %d, failed %d)", tick, s.offered, s.failed)
	}
	return c
}

var chaosCPType = game.GameType{Name: "chaoscp", New: func() game.Logic { return &gametest.ChaosCP{} },
	Defaults: game.Options{MaxPlayers: 5, ReconnectGrace: 2 * time.Second, EmptyTimeout: -1, RingDuration: time.Second,
		CheckpointEvery: 50 * time.Millisecond}} // every tick, so any tick can be the one restored

// newCPEnv is newEnv with a checkpoint sink.
func newCPEnv(t *testing.T, s game.CheckpointSink) *env {
	e := newEnv(t, chaosCPType)
	e.reg = game.NewRegistry(game.RegistryConfig{Catalog: e.cat, Clock: e.clock, NoStagger: true,
		Log: slog.New(slog.DiscardHandler), Checkpoints: s})
	t.Cleanup(func() { e.reg.Shutdown(context.Background()) })
	return e
}

// worldSum is a checksum of everything in a match's state: the public fields and every pid's
// private ones.
func worldSum(t *testing.T, m *game.Match) [8]uint64 {
	t.Helper()
	var s [8]uint64
	if err := m.Inspect(context.Background(), func(c *game.Ctx) {
		for pid := range s {
			s[pid] = c.State().ViewChecksum(uint32(pid))
		}
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPropertyCheckpointRestore runs chaos matches with random joins, drops, leaves, lost
// deltas and inputs, checkpoints every tick, and at a random tick restores the checkpoint into a
// match on another registry (another instance) in the next epoch while the old one goes on for
// a few ticks (progress a crash loses). Then: both matches, left alone, evolve identically (the
// state, the game's data and the random generator were restored exactly); every client that
// followed the old match resumes on the new one with its old (epoch, tick), gets a snapshot of
// the new epoch that equals the new match's state, and its ack continues from the last input
// the checkpoint had applied; an input at or below that ack is never applied again.
func TestPropertyCheckpointRestore(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { checkpointRestore(t, seed) })
	}
}

func checkpointRestore(t *testing.T, seed uint64) {
	sinkA := &cpSink{}
	a := newCPEnv(t, sinkA)
	old := a.create(game.CreateOptions{Game: "chaoscp", ID: fmt.Sprint("cp-", seed), Label: map[string]string{"k": "v"}})
	r := rand.New(rand.NewPCG(seed, 42))
	var clients []*client
	var st chaosStats
	users := 0
	at := uint32(20 + r.IntN(200)) // the tick whose checkpoint is restored
	for tick := uint32(1); tick <= at; tick++ {
		switch op := r.IntN(10); {
		case op == 0 && len(clients) < 5:
			users++
			c := &client{user: fmt.Sprint("u", users), sink: &sink{}}
			wait := a.joinAsync(old, c.user, c.sink)
			a.step(old)
			pid, err := wait()
			if err != nil {
				t.Fatal(err)
			}
			c.pid = pid
			clients = append(clients, c)
			tick++
		case op == 1 && len(clients) > 0:
			c := clients[r.IntN(len(clients))]
			if !c.dropped && r.IntN(3) == 0 {
				old.Leave(c.pid, c.sink, protocol.LeaveLeft)
				clients = remove(clients, c)
			} else if !c.dropped {
				old.Leave(c.pid, c.sink, protocol.LeaveDropped)
				c.dropped = true
			}
		case op == 2 && len(clients) > 0:
			if c := clients[r.IntN(len(clients))]; c.dropped {
				c.sink, c.dropped = &sink{}, false
				old.Sync(c.pid, c.sink, 1, c.mirror.Epoch, c.mirror.Tick)
			} else {
				c.lose = true
			}
		default:
			for _, c := range clients {
				if !c.dropped && r.IntN(2) == 0 {
					c.seq++
					old.Input(c.pid, c.seq, c.mirror.Tick, protocol.AppendUint(nil, uint64(r.IntN(1000))))
				}
			}
		}
		if tick > at {
			break
		}
		a.step(old)
		clients = followAll(t, clients, &st, old)
	}
	at = old.Info().Tick
	cp := sinkA.at(t, at)
	if cp.Epoch != 1 || cp.Game != "chaoscp" || cp.Match != old.ID() {
		t.Fatalf("checkpoint %+v", cp)
	}
	// What the checkpoint applied: the acks the restored seats must carry on from.
	acks, droppedAt := map[uint32]uint32{}, map[*client]bool{}
	for _, c := range clients {
		droppedAt[c] = c.dropped
	}
	if err := old.Inspect(context.Background(), func(x *game.Ctx) {
		x.Players(func(p *game.Player) { acks[p.PID] = p.LastInput })
	}); err != nil {
		t.Fatal(err)
	}

	// The old owner goes on a little (progress lost by a crash); its clients follow it.
	lost := 1 + r.IntN(5)
	var oldSums [][8]uint64
	for range lost {
		a.step(old)
		clients = followAll(t, clients, &st, old)
	}
	for range 10 {
		a.step(old)
		oldSums = append(oldSums, worldSum(t, old))
	}

	b := newCPEnv(t, &cpSink{})
	nm, err := b.reg.Restore(cp.Data, 0)
	if err != nil {
		t.Fatal(err)
	}
	info := nm.Info()
	if info.Epoch != 2 || info.Tick != at || info.ID != old.ID() || info.Label["k"] != "v" || info.Players != len(acks) {
		t.Fatalf("restored info %+v, want epoch 2 tick %d %d players", info, at, len(acks))
	}
	for _, mi := range info.Members {
		if mi.Connected {
			t.Fatalf("restored member %+v is connected", mi)
		}
	}
	// Left alone, the restored match evolves exactly as the old one did after the checkpoint.
	for i := range lost + 10 {
		b.step(nm)
		if i >= lost {
			if got, want := worldSum(t, nm), oldSums[i-lost]; got != want {
				t.Fatalf("tick %d after the checkpoint: restored state %v, old %v", i+1, got, want)
			}
		}
	}
	// Every client resumes from what it had of the old match.
	for _, c := range clients {
		c.sink, c.dropped, c.repairing, c.behind, c.lose = &sink{}, false, false, false, false
		if err := nm.Sync(c.pid, c.sink, 9, c.mirror.Epoch, c.mirror.Tick); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		for _, c := range slices.Clone(clients) {
			if d := c.sink.detachedReasons(); len(d) > 0 {
				// Only a seat dropped before the checkpoint may have run out of grace since.
				if len(d) != 1 || d[0] != protocol.LeaveTimeout || !droppedAt[c] {
					t.Fatalf("%s: %s detached with %v (dropped at the checkpoint: %v)", when, c.user, d, droppedAt[c])
				}
				st.expired++
				clients = remove(clients, c)
				continue
			}
			for _, raw := range c.sink.takeRaw() {
				follow(t, c, raw, &st, nil, nm)
			}
			if c.mirror.Epoch != 2 {
				t.Fatalf("%s: %s mirror in epoch %d", when, c.user, c.mirror.Epoch)
			}
			if got, want := c.mirror.Checksum(), view(t, nm, c.pid); got != want {
				t.Fatalf("%s: %s (pid %d) mirror differs from the restored match", when, c.user, c.pid)
			}
		}
	}
	b.step(nm)
	check("resumed")
	for _, c := range clients {
		if c.mirror.Ack != acks[c.pid] {
			t.Fatalf("%s (pid %d) resumed with ack %d, the checkpoint applied %d (%v)", c.user, c.pid, c.mirror.Ack, acks[c.pid], acks)
		}
		c.seq = c.mirror.Ack
	}
	// An input the checkpoint already applied is ignored; the next ones are applied and acked.
	dup := protocol.AppendUint(nil, 1e6) // chaos keeps a player's last input in field 5
	for _, c := range clients {
		if c.seq > 0 {
			nm.Input(c.pid, c.seq, c.mirror.Tick, dup)
		}
	}
	b.step(nm)
	check("duplicate inputs")
	for _, c := range clients {
		if v := lastInput(t, nm, c.pid); c.seq > 0 && v == string(dup) {
			t.Fatalf("%s: a duplicate input (seq %d) was applied again", c.user, c.seq)
		}
	}
	for range 5 {
		for _, c := range clients {
			c.seq++
			nm.Input(c.pid, c.seq, c.mirror.Tick, protocol.AppendUint(nil, uint64(r.IntN(1000))))
		}
		b.step(nm)
		check("playing on")
		for _, c := range clients {
			if c.mirror.Ack != c.seq {
				t.Fatalf("%s acked %d after sending %d", c.user, c.mirror.Ack, c.seq)
			}
		}
	}
}

// followAll feeds each connected client its frames; a resume whose seat had expired is
// detached and forgotten.
func followAll(t *testing.T, clients []*client, st *chaosStats, m *game.Match) []*client {
	t.Helper()
	for _, c := range slices.Clone(clients) {
		if c.dropped {
			continue
		}
		if d := c.sink.detachedReasons(); len(d) > 0 {
			if len(d) != 1 || d[0] != protocol.LeaveTimeout {
				t.Fatalf("%s detached with %v", c.user, d)
			}
			clients = remove(clients, c)
			continue
		}
		for _, raw := range c.sink.takeRaw() {
			follow(t, c, raw, st, nil, m)
		}
	}
	return clients
}

// lastInput is chaos' private field 5 of pid's entity: the payload of its last applied input.
func lastInput(t *testing.T, m *game.Match, pid uint32) string {
	var v string
	if err := m.Inspect(context.Background(), func(c *game.Ctx) {
		if e := c.State().Get(1000 + game.EntityID(pid)); e != nil {
			v = string(e.Field(5).Append(nil))
		}
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRestoreRefuses: a checkpoint that is not one, a stale epoch, a game that cannot be
// restored, a running id.
func TestRestoreRefuses(t *testing.T) {
	s := &cpSink{}
	e := newCPEnv(t, s)
	m := e.create(game.CreateOptions{Game: "chaoscp", ID: "r1"})
	e.join(m, "u1", &sink{})
	cp := s.at(t, m.Info().Tick)
	if _, err := e.reg.Restore(cp.Data, 0); !errors.Is(err, game.ErrExists) {
		t.Fatalf("restore over a running match: %v", err)
	}
	b := newCPEnv(t, nil)
	if _, err := b.reg.Restore(cp.Data, 1); !errors.Is(err, game.ErrBadCheckpoint) {
		t.Fatalf("restore in the checkpoint's own epoch: %v", err)
	}
	for _, bad := range [][]byte{nil, {0xc0}, cp.Data[:len(cp.Data)/2], []byte("\x91\x02")} {
		if _, err := b.reg.Restore(bad, 0); !errors.Is(err, game.ErrBadCheckpoint) {
			t.Fatalf("restore %x: %v", bad, err)
		}
	}
	if _, err := b.reg.Restore(make([]byte, game.MaxCheckpointBytes+1), 0); !errors.Is(err, game.ErrBadCheckpoint) {
		t.Fatalf("restore of an oversized checkpoint: %v", err)
	}
	// A game without Checkpointer is never checkpointed.
	plain := e.create(game.CreateOptions{Game: "arena", ID: "plain"})
	e.join(plain, "u2", &sink{})
	e.step(plain, m)
	s.mu.Lock()
	for _, c := range s.byTick {
		if c.Match == "plain" {
			t.Fatal("a relay match was checkpointed")
		}
	}
	s.mu.Unlock()
	// A match that ends is forgotten.
	m.Stop(protocol.EndStopped)
	<-m.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.forgot) != 1 || s.forgot[0] != "r1" {
		t.Fatalf("forgotten %v", s.forgot)
	}
}

// A checkpoint's declared lengths are checked against its bytes before anything is allocated:
// 13 bytes declaring a 3.3 GB bin32 (found by FuzzRestore) crashed a fuzz worker when
// msgpack/v5.4.1 decoded them directly.
func TestRestoreAllocationBounded(t *testing.T) {
	b := newCPEnv(t, nil)
	bomb := []byte("\x8d\xc5\x00\x00\xc6\xc6\xc6\xc6\xce\xc6\xc6\xc6\xc7")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := b.reg.Restore(bomb, 0); !errors.Is(err, game.ErrBadCheckpoint) {
		t.Fatalf("restore %x: %v", bomb, err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("a 13-byte checkpoint allocated %d bytes", got)
	}
}

// FuzzRestore: any bytes given to Restore are refused with an error or restore a match, never
// panic or hang.
func FuzzRestore(f *testing.F) {
	cat := game.NewCatalog()
	cat.Register(chaosCPType)
	cat.Register(duel.Type)
	cat.Register(arena.Type)
	clock := game.NewManualClock()
	s := &cpSink{}
	reg := game.NewRegistry(game.RegistryConfig{Catalog: cat, Clock: clock, NoStagger: true, Log: slog.New(slog.DiscardHandler), Checkpoints: s})
	m, err := reg.Create(game.CreateOptions{Game: "duel", ID: "seed"})
	if err != nil {
		f.Fatal(err)
	}
	for _, u := range []string{"a", "b"} {
		if _, err := m.StartJoin(context.Background(), u, u, nil, &sink{}, 1); err != nil {
			f.Fatal(err)
		}
	}
	for range 10 { // a duel checkpoints every second: 10 ticks
		clock.Advance(100 * time.Millisecond)
		if err := m.Inspect(context.Background(), func(*game.Ctx) {}); err != nil {
			f.Fatal(err)
		}
	}
	if len(s.byTick) == 0 {
		f.Fatal("no checkpoint to seed the corpus with")
	}
	s.mu.Lock()
	for _, c := range s.byTick {
		f.Add(c.Data)
	}
	s.mu.Unlock()
	if err := reg.Shutdown(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{0x91, 0x01})
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := game.NewRegistry(game.RegistryConfig{Catalog: cat, Clock: game.NewManualClock(), NoStagger: true, Log: slog.New(slog.DiscardHandler)})
		defer b.Shutdown(context.Background())
		if m, err := b.Restore(data, 0); err == nil {
			m.Stop(protocol.EndStopped)
			<-m.Done()
		} else if !errors.Is(err, game.ErrBadCheckpoint) && !errors.Is(err, game.ErrUnknownGame) && !errors.Is(err, game.ErrNotRestorable) {
			t.Fatalf("restore: %v", err)
		}
	})
}
