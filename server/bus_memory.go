package server

import (
	"context"
	"fmt"

	"github.com/tickrelay/tickrelay/game"
)

// memoryBus is the single-instance bus: every match is local.
type memoryBus struct{ reg *game.Registry }

// NewMemoryBus returns the in-memory bus over a registry.
func NewMemoryBus(reg *game.Registry) Bus { return &memoryBus{reg: reg} }

func (b *memoryBus) Locate(_ context.Context, id string) (MatchHandle, error) {
	if m, ok := b.reg.Get(id); ok {
		return m, nil
	}
	return nil, fmt.Errorf("%w %q", errNoMatch, id)
}

func (b *memoryBus) List(_ context.Context, f game.Filter) ([]game.Info, error) {
	return b.reg.List(f), nil
}

func (b *memoryBus) Announce(*game.Match) error { return nil }
func (b *memoryBus) Withdraw(string)            {}
func (b *memoryBus) Health() error              { return nil }
func (b *memoryBus) Close() error               { return nil }
