package server

import (
	"context"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// MatchHandle is how sessions and the HTTP API talk to a match, wherever it runs: *game.Match
// implements it for local matches; a cluster bus implements it with a relay to the owner.
type MatchHandle interface {
	ID() string
	Info() game.Info
	Join(ctx context.Context, userID, name string, meta []byte, sink game.Sink, req uint32) (uint32, error)
	Reserve(ctx context.Context, userID string, ttl time.Duration) error
	Leave(pid uint32, sink game.Sink, reason protocol.LeaveReason)
	Input(pid, seq, seen uint32, payload []byte) bool
	Message(pid uint32, to []uint32, echo bool, payload []byte) bool
	Sync(pid uint32, sink game.Sink, req, epoch, tick uint32) error
	Publish(payload []byte) error
	Watch(sink game.Sink, req uint32) error
	Unwatch(sink game.Sink)
}

var _ MatchHandle = (*game.Match)(nil)

// Bus is the seam between this instance and the others. The server reaches matches only
// through it: the in-memory bus (one instance, no Redis) finds them in the local registry; a
// cluster bus (Redis, a later step) also finds matches owned by other instances and relays
// their traffic.
type Bus interface {
	// Locate finds match id, here or elsewhere. Errors wrap errNoMatch when there is none.
	Locate(ctx context.Context, id string) (MatchHandle, error)
	// List lists matches (all instances' for a cluster bus).
	List(ctx context.Context, f game.Filter) ([]game.Info, error)
	// Announce tells the cluster that a local match started; Withdraw that it ended.
	Announce(m *game.Match) error
	Withdraw(id string)
	// Health is nil when the bus works (a cluster bus reports a lost Redis here).
	Health() error
	Close() error
}
