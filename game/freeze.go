package game

import (
	"context"
)

// Freeze takes a checkpoint of the match now and stops it from ticking: a drain hands the
// match to another instance, which goes on from exactly this checkpoint (nothing changes here
// after it, so no progress is lost). Inputs and requests that arrive meanwhile wait in the
// inbox (its bounds apply) and go with this copy. A frozen match still ends with Stop (its
// members get END); it is never unfrozen. Errors: ErrNotRestorable (the game is not a
// Checkpointer), ErrMatchEnded, ctx's error, or the game's Checkpoint error.
func (m *Match) Freeze(ctx context.Context) (MatchCheckpoint, error) {
	type result struct {
		c   MatchCheckpoint
		err error
	}
	ch := make(chan result, 1)
	fn := func() {
		cp, ok := m.logic.(Checkpointer)
		switch {
		case !ok:
			ch <- result{err: ErrNotRestorable}
			return
		case m.ending || m.ended:
			ch <- result{err: ErrMatchEnded}
			return
		}
		now := m.clock.Now()
		c := MatchCheckpoint{Match: m.id, Game: m.game, Epoch: m.epoch, Tick: m.tick, Taken: now}
		c.Data, c.Err = m.encodeCheckpoint(cp, now)
		if c.Err == nil {
			m.frozen = true
		}
		ch <- result{c: c, err: c.Err}
	}
	select {
	case m.ctl <- fn:
	case <-ctx.Done():
		return MatchCheckpoint{}, ctx.Err()
	case <-m.done:
		return MatchCheckpoint{}, ErrMatchEnded
	}
	select {
	case r := <-ch:
		return r.c, r.err
	case <-m.done: // the game's Checkpoint panicked: the match failed
		return MatchCheckpoint{}, ErrMatchEnded
	}
}

// held reports whether the registry's Hold says the match must not tick now.
func (m *Match) held() bool { return m.hold != nil && m.hold() }
