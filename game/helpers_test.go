package game_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/game/duel"
	"github.com/tickrelay/tickrelay/game/relay"
	"github.com/tickrelay/tickrelay/protocol"
)

// env is a registry on a manual clock: tests step matches tick by tick with no sleeps.
type env struct {
	t     *testing.T
	clock *game.ManualClock
	reg   *game.Registry
	cat   *game.Catalog
}

func newEnv(t *testing.T, extra ...game.GameType) *env {
	t.Helper()
	cat := game.NewCatalog()
	cat.Register(arena.Type)
	cat.Register(relay.Type)
	cat.Register(duel.Type)
	for _, x := range extra {
		cat.Register(x)
	}
	clock := game.NewManualClock()
	reg := game.NewRegistry(game.RegistryConfig{Catalog: cat, Clock: clock, NoStagger: true, Log: slog.New(slog.DiscardHandler)})
	e := &env{t: t, clock: clock, reg: reg, cat: cat}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := reg.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return e
}

func (e *env) create(o game.CreateOptions) *game.Match {
	e.t.Helper()
	m, err := e.reg.Create(o)
	if err != nil {
		e.t.Fatalf("create: %v", err)
	}
	return m
}

// step advances one tick of the first match and waits until every listed match finished it.
func (e *env) step(ms ...*game.Match) {
	e.stepBy(time.Second/time.Duration(ms[0].Info().TickRate), ms...)
}

func (e *env) stepBy(d time.Duration, ms ...*game.Match) {
	e.t.Helper()
	e.clock.Advance(d)
	for _, m := range ms {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := m.Inspect(ctx, func(*game.Ctx) {})
		cancel()
		if err != nil && err != game.ErrMatchEnded {
			e.t.Fatalf("barrier: %v", err)
		}
	}
}

// joinAsync queues a join (answered at the next tick) and returns a function that waits for it.
func (e *env) joinAsync(m *game.Match, user string, sink game.Sink) func() (uint32, error) {
	e.t.Helper()
	p, err := m.StartJoin(context.Background(), user, user, nil, sink, 1)
	if err != nil {
		e.t.Fatalf("start join: %v", err)
	}
	return func() (uint32, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return p.Wait(ctx)
	}
}

// join joins user and steps until answered.
func (e *env) join(m *game.Match, user string, sink game.Sink) uint32 {
	e.t.Helper()
	wait := e.joinAsync(m, user, sink)
	e.step(m)
	pid, err := wait()
	if err != nil {
		e.t.Fatalf("join %s: %v", user, err)
	}
	return pid
}

// sink records every frame it gets, as complete frames.
type sink struct {
	mu       sync.Mutex
	frames   [][]byte
	shared   [][]byte
	detached []protocol.LeaveReason
}

func (s *sink) Deliver(shared, tail []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := append(append([]byte(nil), shared...), tail...)
	s.frames = append(s.frames, f)
	s.shared = append(s.shared, shared)
}

func (s *sink) Detached(_ string, _ uint32, r protocol.LeaveReason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.detached = append(s.detached, r)
}

// take returns and forgets the frames so far, decoded.
func (s *sink) take(t *testing.T) []protocol.ServerMsg {
	t.Helper()
	s.mu.Lock()
	fs := s.frames
	s.frames, s.shared = nil, nil
	s.mu.Unlock()
	out := make([]protocol.ServerMsg, len(fs))
	for i, f := range fs {
		if err := protocol.DecodeServer(f, &out[i]); err != nil {
			t.Fatalf("frame %d (%x): %v", i, f, err)
		}
	}
	return out
}

// takeRaw returns and forgets the frames so far, as bytes.
func (s *sink) takeRaw() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.frames
	s.frames, s.shared = nil, nil
	return fs
}

// detachedReasons returns and forgets the Detached calls so far.
func (s *sink) detachedReasons() []protocol.LeaveReason {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.detached
	s.detached = nil
	return d
}

// feed applies frames to a mirror the way a client does.
func feed(t *testing.T, mi *game.Mirror, msgs []protocol.ServerMsg) {
	t.Helper()
	for i := range msgs {
		m := &msgs[i]
		var err error
		switch m.Op {
		case protocol.OpJoined:
			err = mi.ApplyJoined(m)
		case protocol.OpDelta:
			err = mi.ApplyDelta(m)
		case protocol.OpCatchup:
			err = mi.ApplyCatchup(m)
		}
		if err != nil {
			t.Fatalf("frame %d (op %d): %v", i, m.Op, err)
		}
	}
}

// view returns the server-side checksum of what pid may see.
func view(t *testing.T, m *game.Match, pid uint32) uint64 {
	t.Helper()
	var sum uint64
	if err := m.Inspect(context.Background(), func(c *game.Ctx) { sum = c.State().ViewChecksum(pid) }); err != nil {
		t.Fatal(err)
	}
	return sum
}

func input(dx, dy float64) []byte { return arena.EncodeInput(nil, dx, dy) }
