package matchmaking

import (
	"context"
	"time"
)

// Store keeps tickets. Tickets it hands out are snapshots: never modify them (the store copies
// on write). Implementations: MemoryStore (one instance); a Redis store shares queues across
// a cluster.
type Store interface {
	// Add stores a new searching ticket. ErrLiveTicket if one of its members has a live
	// ticket; ErrCapacity when the store holds its maximum of live tickets.
	Add(ctx context.Context, t *Ticket) error
	// Get returns ticket id (ErrNoTicket when unknown or forgotten).
	Get(ctx context.Context, id string) (*Ticket, error)
	// Live is the id of player's live ticket, if any.
	Live(ctx context.Context, player string) (string, bool, error)
	// Searching returns queue's searching tickets that no placement holds.
	Searching(ctx context.Context, queue string) ([]*Ticket, error)
	// Claim marks tickets as held by a placement, all or none: errClaimed if one of them is
	// no longer searching or already held, ErrFenced if f's lease is no longer held.
	Claim(ctx context.Context, f Fence, ids []string) error
	// Requeue gives held tickets back to the search (a placement failed).
	Requeue(ctx context.Context, ids []string) error
	// Finish gives a ticket its outcome: Matched (a held ticket, with its seats) or Expired
	// (a searching one). It returns the finished ticket; errNotSearching if it had one already.
	// Matcher-side outcomes are fenced by f like Claim. FinishAll gives several tickets (a
	// group placed together) their outcomes at once: all or none.
	Finish(ctx context.Context, f Fence, id string, o Outcome) (*Ticket, error)
	FinishAll(ctx context.Context, f Fence, ids []string, os []Outcome) ([]*Ticket, error)
	// Cancel cancels player's searching ticket: ErrPlacing while held, ErrFinished once it
	// has an outcome, ErrNotYours for a player not on it.
	Cancel(ctx context.Context, id, player string) (*Ticket, error)
	// Changed is closed at the ticket's next change after version.
	Changed(ctx context.Context, id string, version uint64) (<-chan struct{}, error)
	// Sweep forgets tickets whose outcome is older than retain.
	Sweep(now time.Time, retain time.Duration)
	// Len is the number of live tickets.
	Len() int
}

// Fence names the lease a matcher holds on a queue (zero: no lease, one instance). A store
// refuses a fenced write once another holder took the lease over (a newer token).
type Fence struct {
	Queue string
	Token string
}

// Leaser is a Store shared by several instances: only the holder of a queue's lease runs its
// matcher. Lease acquires or renews it for owner, reporting the fence while owner holds it;
// ReleaseLease gives it up. RequeueStale gives back to the search the tickets claimed under
// another fence (a lost holder, whose Finish is refused) or longer ago than stale; the holder
// calls it when it takes the lease and at every renewal.
type Leaser interface {
	Lease(ctx context.Context, queue, owner string, ttl time.Duration) (Fence, bool, error)
	ReleaseLease(ctx context.Context, f Fence) error
	RequeueStale(ctx context.Context, f Fence, stale time.Duration) (int, error)
}

// Feed is a Store whose changes are seen by every instance: the matchmaker tells each change to
// the players connected here from the feed (instead of from its own writes).
type Feed interface {
	OnChange(fn func(t *Ticket))
}

// Follower is a Store whose change feed carries the changed tickets: a long-poll reads its
// ticket once, then takes every change from the feed instead of reading it again.
type Follower interface {
	// Follow delivers each change of ticket id seen after the call until stop is called; a
	// reader that falls behind gets the newest (the channel holds one).
	Follow(id string) (changes <-chan *Ticket, stop func())
}

// Outcome is how a ticket ends (see Store.Finish).
type Outcome struct {
	Status Status
	Reason string
	Seats  []Seat
	Window float64
	At     time.Time
}

// Tail is a Store that can say what changed in a queue: while it holds a queue's lease, the
// runner keeps the queue in memory and reads only the tickets that changed since its last pass
// (a pass costs what changed, not the queue's length); it reads the queue in full when it takes
// the lease over, and when the store no longer knows every change since its cursor.
type Tail interface {
	// Snapshot is every searching ticket of queue (placing ones too) and the cursor it is
	// complete as of.
	Snapshot(ctx context.Context, queue string) ([]*Ticket, uint64, error)
	// Since is the current state of each ticket of queue changed after cursor, the ids of
	// those gone from the store (a store may answer ended ones there too, unread), and the new
	// cursor; errGap when the changes since cursor are no longer all known.
	Since(ctx context.Context, queue string, cursor uint64) (changed []*Ticket, gone []string, next uint64, err error)
}

// GroupClaimer is a Store that claims several groups at once (one round trip to a shared
// store for a whole matcher run): each group all or none, as Claim. ClaimGroups answers one
// error per group (nil: claimed), or an error for all.
type GroupClaimer interface {
	ClaimGroups(ctx context.Context, f Fence, groups [][]string) ([]error, error)
}
