package server

import (
	"context"
	"fmt"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// memoryBus is the single-instance bus: every match is local.
type memoryBus struct {
	reg   *game.Registry
	owner Owner
}

// NewMemoryBus returns the in-memory bus over a registry; owner names this instance.
func NewMemoryBus(reg *game.Registry, owner Owner) Bus { return &memoryBus{reg: reg, owner: owner} }

func (b *memoryBus) Locate(_ context.Context, id string) (MatchHandle, error) {
	if m, ok := b.reg.Get(id); ok {
		return LocalHandle(m, b.owner), nil
	}
	return nil, fmt.Errorf("%w %q", ErrNoMatch, id)
}

func (b *memoryBus) List(_ context.Context, f game.Filter, cursor string) ([]MatchInfo, string, error) {
	infos, next, err := b.reg.Page(f, cursor, f.Limit)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	out := make([]MatchInfo, len(infos))
	for i, info := range infos {
		out[i] = MatchInfo{Info: info, Owner: b.owner}
	}
	return out, next, nil
}

func (b *memoryBus) Announce(context.Context, string) error { return nil }
func (b *memoryBus) Withdraw(string)                        {}
func (b *memoryBus) Place(context.Context) (NodeLoad, error) {
	return NodeLoad{Node: b.owner.Node, Address: b.owner.Address}, nil
}
func (b *memoryBus) Tickets() TicketLedger { return nil }
func (b *memoryBus) TakeSession(context.Context, string, string, string) (SessionSeat, error) {
	return SessionSeat{}, ErrResume
}
func (b *memoryBus) Health() error { return nil }
func (b *memoryBus) Close() error  { return nil }

// LocalHandle is the MatchHandle of a match running in this process (buses use it for their
// local matches).
func LocalHandle(m *game.Match, owner Owner) MatchHandle { return localHandle{m: m, owner: owner} }

type localHandle struct {
	m     *game.Match
	owner Owner
}

func (h localHandle) ID() string   { return h.m.ID() }
func (h localHandle) Owner() Owner { return h.owner }

func (h localHandle) Info(context.Context) (game.Info, error) { return h.m.Info(), nil }

func (h localHandle) Join(ctx context.Context, j JoinRequest, done func(uint32, error)) error {
	return h.m.JoinFunc(ctx, j.UserID, j.Name, j.Meta, j.Sink, j.Req, done)
}

func (h localHandle) Reserve(ctx context.Context, userID string, ttl time.Duration) error {
	return h.m.Reserve(ctx, userID, ttl)
}

func (h localHandle) Leave(_ context.Context, pid uint32, sink game.Sink, reason protocol.LeaveReason) error {
	h.m.Leave(pid, sink, reason)
	return nil
}

func (h localHandle) Input(_ context.Context, pid, seq, seen uint32, payload []byte) error {
	if !h.m.Input(pid, seq, seen, payload) {
		return ErrDropped
	}
	return nil
}

func (h localHandle) Message(_ context.Context, pid uint32, to []uint32, echo bool, payload []byte) error {
	if !h.m.Message(pid, to, echo, payload) {
		return ErrDropped
	}
	return nil
}

func (h localHandle) Sync(_ context.Context, pid uint32, sink game.Sink, req, epoch, tick uint32) error {
	return h.m.Sync(pid, sink, req, epoch, tick)
}

func (h localHandle) Publish(_ context.Context, payload []byte) error { return h.m.Publish(payload) }

func (h localHandle) Watch(_ context.Context, sink game.Sink, req uint32) error {
	return h.m.Watch(sink, req)
}

func (h localHandle) Unwatch(_ context.Context, sink game.Sink) error {
	h.m.Unwatch(sink)
	return nil
}
