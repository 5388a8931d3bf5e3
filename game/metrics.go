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

// NopMetrics discards everything.
type NopMetrics struct{}

func (NopMetrics) Match(string) MatchMetrics { return nopMatch{} }

type nopMatch struct{}

func (nopMatch) Tick(time.Duration, bool) {}
func (nopMatch) Delta(int, int)           {}
func (nopMatch) Inbox(int)                {}
func (nopMatch) Ended(protocol.EndReason) {}
