package gametest

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// Harness is one match of a game on a ManualClock.
type Harness struct {
	T     testing.TB
	Clock *game.ManualClock
	Reg   *game.Registry
	Match *game.Match
	// Schema is the game's field names (its Schema method, if any), for Player.Field.
	Schema []string
	tick   time.Duration
}

// New creates a match of gt with params (any value protocol.Marshal encodes; nil: none). Init's
// error fails the test; use Create to test a refusal.
func New(t testing.TB, gt game.GameType, params any) *Harness {
	t.Helper()
	h, err := Create(t, gt, params)
	if err != nil {
		t.Fatalf("gametest: create %s: %v", gt.Name, err)
	}
	return h
}

// Create is New returning Init's error (wrapping game.ErrInit) instead of failing.
func Create(t testing.TB, gt game.GameType, params any) (*Harness, error) {
	t.Helper()
	cat := game.NewCatalog()
	cat.Register(gt)
	clock := game.NewManualClock()
	reg := game.NewRegistry(game.RegistryConfig{Catalog: cat, Clock: clock, NoStagger: true, Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := reg.Shutdown(ctx); err != nil {
			t.Errorf("gametest: shutdown: %v", err)
		}
	})
	var raw []byte
	if params != nil {
		var err error
		if raw, err = protocol.Marshal(params); err != nil {
			t.Fatalf("gametest: params: %v", err)
		}
	}
	m, err := reg.Create(game.CreateOptions{Game: gt.Name, Params: raw})
	if err != nil {
		return nil, err
	}
	h := &Harness{T: t, Clock: clock, Reg: reg, Match: m, tick: time.Second / time.Duration(m.Info().TickRate)}
	if s, ok := gt.New().(interface{ Schema() []string }); ok {
		h.Schema = s.Schema()
	}
	return h, nil
}

// Step runs n ticks (default 1) and returns when the match has finished the last one (or ended).
func (h *Harness) Step(n ...int) {
	h.T.Helper()
	count := 1
	if len(n) > 0 {
		count = n[0]
	}
	for range count {
		h.Clock.Advance(h.tick)
		if err := h.Inspect(func(*game.Ctx) {}); errors.Is(err, game.ErrMatchEnded) {
			return
		} else if err != nil {
			h.T.Fatalf("gametest: step: %v", err)
		}
	}
}

// Inspect runs fn on the match goroutine with the game's Ctx (read its State, players, tick).
func (h *Harness) Inspect(fn func(*game.Ctx)) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return h.Match.Inspect(ctx, fn)
}

// Ended reports whether the match ended, with its reason and result (msgpack; decode it with
// protocol.Unmarshal).
func (h *Harness) Ended() (reason protocol.EndReason, result []byte, ended bool) {
	select {
	case <-h.Match.Done():
	default:
		return 0, nil, false
	}
	rec, ok := h.Reg.Ended(h.Match.ID())
	if !ok {
		return 0, nil, true
	}
	return rec.Reason, rec.Result, true
}

// Join seats a player named name (user id "u-"+name), stepping until the match answers.
func (h *Harness) Join(name string) *Player {
	h.T.Helper()
	p, err := h.TryJoin(name, nil)
	if err != nil {
		h.T.Fatalf("gametest: join %s: %v", name, err)
	}
	return p
}

// TryJoin is Join with JOIN meta (nil: none), returning the game's refusal instead of failing.
func (h *Harness) TryJoin(name string, meta any) (*Player, error) {
	h.T.Helper()
	var rawMeta []byte
	if meta != nil {
		var err error
		if rawMeta, err = protocol.Marshal(meta); err != nil {
			h.T.Fatalf("gametest: meta: %v", err)
		}
	}
	p := &Player{h: h, Name: name, User: "u-" + name, sink: &sink{}, Mirror: &game.Mirror{}}
	pending, err := h.Match.StartJoin(context.Background(), p.User, name, rawMeta, p.sink, 1)
	if err != nil {
		return nil, err
	}
	h.Step()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if p.PID, err = pending.Wait(ctx); err != nil {
		return nil, err
	}
	p.Mirror.PID = p.PID
	return p, nil
}
