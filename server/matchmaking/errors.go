package matchmaking

import (
	"errors"
	"fmt"

	"github.com/tickrelay/tickrelay/protocol"
)

// codedError is a sentinel that carries its client-facing code (server.codeOf reads it).
type codedError struct {
	code protocol.ErrorCode
	msg  string
}

func (e *codedError) Error() string                 { return e.msg }
func (e *codedError) ErrorCode() protocol.ErrorCode { return e.code }

// Sentinel errors; wrap them with %w, test them with errors.Is.
var (
	ErrNoTicket     = &codedError{protocol.ErrCodeNotFound, "matchmaking: no such ticket"}
	ErrNoQueue      = &codedError{protocol.ErrCodeNotFound, "matchmaking: no such queue"}
	ErrNoParty      = &codedError{protocol.ErrCodeNotFound, "matchmaking: no such party"}
	ErrNotYours     = &codedError{protocol.ErrCodeForbidden, "matchmaking: not your ticket or party"}
	ErrNotLeader    = &codedError{protocol.ErrCodeForbidden, "matchmaking: only the party's leader opens tickets"}
	ErrLiveTicket   = &codedError{protocol.ErrCodeConflict, "matchmaking: a live ticket exists"}
	ErrFinished     = &codedError{protocol.ErrCodeConflict, "matchmaking: the ticket has its outcome already"}
	ErrPlacing      = &codedError{protocol.ErrCodeConflict, "matchmaking: the ticket is being placed in a match"}
	ErrInParty      = &codedError{protocol.ErrCodeConflict, "matchmaking: already in a party"}
	ErrPartyFull    = &codedError{protocol.ErrCodeConflict, "matchmaking: the party is full"}
	ErrPartyBusy    = &codedError{protocol.ErrCodeConflict, "matchmaking: the party has a live ticket"}
	ErrInvalid      = &codedError{protocol.ErrCodeBadRequest, "matchmaking: invalid request"}
	ErrTooLarge     = &codedError{protocol.ErrCodeTooLarge, "matchmaking: over a size limit"}
	ErrCapacity     = &codedError{protocol.ErrCodeUnavailable, "matchmaking: at capacity"}
	ErrClosed       = &codedError{protocol.ErrCodeUnavailable, "matchmaking: shutting down"}
	errClaimed      = errors.New("matchmaking: a ticket of the group is no longer searching")
	ErrFenced       = errors.New("matchmaking: the queue's lease is held by another instance")
	errNotSearching = fmt.Errorf("%w: not searching", ErrFinished)
)
