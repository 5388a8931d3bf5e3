package cluster

import "errors"

// Sentinel errors of the substrate. Callers check them with errors.Is; Redis errors are wrapped
// with %w under ErrUnavailable.
var (
	// ErrClosed: the broker or directory was closed.
	ErrClosed = errors.New("cluster: closed")
	// ErrUnavailable: Redis could not be reached in time (the wrapped error says why).
	ErrUnavailable = errors.New("cluster: redis unavailable")
	// ErrTooLarge: a message exceeds the broker's MaxMessage.
	ErrTooLarge = errors.New("cluster: message too large")
	// ErrNotFound: no live directory entry for the match.
	ErrNotFound = errors.New("cluster: not found")
	// ErrTaken: another node holds the match's lease.
	ErrTaken = errors.New("cluster: match owned by another node")
	// ErrFenced: the caller's (node, epoch) is not the lease holder's, or its epoch is older
	// than one already claimed for the match.
	ErrFenced = errors.New("cluster: stale epoch or not the owner")
	// ErrInvalid: a malformed argument (empty name or id, bad limit, bad cursor).
	ErrInvalid = errors.New("cluster: invalid argument")
)
