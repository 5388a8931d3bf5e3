package game

import (
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// Metrics receives the runtime's measurements; the server implements it with Prometheus. The
// game package only defines the seam (it never imports a metrics library).
type Metrics interface {
	// Match returns the observer for one new match of the given game.
	Match(game string) MatchMetrics
}

// MatchMetrics observes one match. Called from its goroutine; implementations must be cheap
// and must not block.
type MatchMetrics interface {
	Tick(d time.Duration, overrun bool) // one tick ran for d (overrun: longer than the interval)
	Delta(bytes, recipients int)        // a delta's shared part was sent to recipients
	Inbox(depth int)                    // messages left queued after the tick
	Ended(reason protocol.EndReason)
}

// LimitMetrics is an optional extension of MatchMetrics: it counts what a match's limits
// refused. Unlike MatchMetrics it is called from any goroutine (whoever queued the message), so
// implementations must be safe for concurrent use.
type LimitMetrics interface {
	// Limited counts one message refused or replaced, by reason: LimitInputShare,
	// LimitMessageShare, LimitRelayBudget, LimitRequests, LimitPayloadDepth, LimitSyncCoalesced.
	Limited(reason string)
}

// Reasons passed to LimitMetrics.Limited.
const (
	LimitInputShare    = "input_share"    // an input over its sender's share of the inbox (dropped)
	LimitMessageShare  = "message_share"  // a message over its sender's share of the inbox (refused)
	LimitRelayBudget   = "relay_budget"   // a message over the tick's relay budget or its sender's share of it (refused)
	LimitRequests      = "requests"       // a join, reservation, watch or publish over the requests pool (ErrBusy)
	LimitPayloadDepth  = "payload_depth"  // a message, published or game event, or result deeper than the payload budget
	LimitSyncCoalesced = "sync_coalesced" // a SYNC that replaced its member's pending one
)

// NopMetrics discards everything.
type NopMetrics struct{}

func (NopMetrics) Match(string) MatchMetrics { return nopMatch{} }

type nopMatch struct{}

func (nopMatch) Tick(time.Duration, bool) {}
func (nopMatch) Delta(int, int)           {}
func (nopMatch) Inbox(int)                {}
func (nopMatch) Ended(protocol.EndReason) {}

// MemberMetrics is an optional extension of MatchMetrics: it counts seats taken and freed.
// Called from the match goroutine.
type MemberMetrics interface {
	// Member counts one event (MemberJoined, MemberRejoined, MemberLeft, MemberDropped) with
	// the leave reason's name for MemberLeft and MemberDropped (LEFT, KICKED, TIMEOUT, ENDED, …).
	Member(event, reason string)
}

// Events passed to MemberMetrics.Member.
const (
	MemberJoined   = "join"   // a new seat was taken
	MemberRejoined = "rejoin" // a seated user came back (a dropped player, or a second connection)
	MemberLeft     = "leave"  // a seat was freed for good (reason: why)
	MemberDropped  = "drop"   // a member's connection was lost; the seat waits for the reconnect grace
)

func (m *Match) memberEvent(event, reason string) {
	if mm, ok := m.metrics.(MemberMetrics); ok {
		mm.Member(event, reason)
	}
}
