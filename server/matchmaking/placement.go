package matchmaking

import (
	"context"
	"time"
)

// Placement is where a group (or a backfill) went: the match and every player's seat.
type Placement struct {
	Match string
	Node  string
	Seats map[string]Seat // by player id
}

// Placer puts matches somewhere. Place creates a match for a group on the least loaded
// instance and reserves every player's seat in it at once: all or none (on an error nothing is
// left reserved and the new match is stopped). Backfill reserves seats in a running match, all
// or none. Open lists the running matches of a queue with free seats.
type Placer interface {
	Place(ctx context.Context, q *Queue, g Group) (Placement, error)
	Backfill(ctx context.Context, q *Queue, match string, tickets []*Ticket) (Placement, error)
	Open(q *Queue, now time.Time) []Open
	// Abandon undoes a placement whose tickets could not be given their outcome (the
	// matcher lost its lease meanwhile): a new match is stopped, backfilled seats released.
	Abandon(ctx context.Context, q *Queue, p Placement, backfill bool)
}
