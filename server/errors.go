package server

import (
	"errors"
	"net/http"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server/auth"
)

// codeOf maps an error from any layer to the protocol's error code. It is the one place where
// internal errors become client-facing codes (for ERROR frames and HTTP JSON errors alike).
func codeOf(err error) protocol.ErrorCode {
	var refusal *game.Refusal
	var coded interface{ ErrorCode() protocol.ErrorCode }
	switch {
	case err == nil:
		return 0
	case errors.As(err, &coded): // errors of packages built on the server carry their code
		return coded.ErrorCode()
	case errors.As(err, &refusal):
		return protocol.ErrCodeJoinRefused
	case errors.Is(err, game.ErrMatchFull):
		return protocol.ErrCodeMatchFull
	case errors.Is(err, game.ErrMatchEnded):
		return protocol.ErrCodeMatchEnded
	case errors.Is(err, game.ErrBusy), errors.Is(err, game.ErrClosed), errors.Is(err, errDraining),
		errors.Is(err, ErrDropped), errors.Is(err, ErrUnavailable):
		return protocol.ErrCodeUnavailable
	case errors.Is(err, game.ErrUnknownGame), errors.Is(err, errNoMatch):
		return protocol.ErrCodeNotFound
	case errors.Is(err, auth.ErrJoinCapacity): // before ErrInvalidToken, which it also matches
		return protocol.ErrCodeUnavailable
	case errors.Is(err, auth.ErrInvalidToken):
		return protocol.ErrCodeUnauthorized
	case errors.Is(err, errForbidden):
		return protocol.ErrCodeForbidden
	case errors.Is(err, errBadRequest):
		return protocol.ErrCodeBadRequest
	case errors.Is(err, protocol.ErrUnknownOp):
		return protocol.ErrCodeUnknownOp
	case errors.Is(err, protocol.ErrTooLarge), errors.Is(err, game.ErrPayloadTooDeep):
		return protocol.ErrCodeTooLarge
	case errors.Is(err, protocol.ErrTruncated), errors.Is(err, protocol.ErrMalformed), errors.Is(err, protocol.ErrType),
		errors.Is(err, protocol.ErrTooDeep), errors.Is(err, protocol.ErrTrailing), errors.Is(err, protocol.ErrInvalid):
		return protocol.ErrCodeMalformed
	case errors.Is(err, errNotInMatch):
		return protocol.ErrCodeNotInMatch
	case errors.Is(err, errAlreadyJoined):
		return protocol.ErrCodeAlreadyJoined
	case errors.Is(err, errResume):
		return protocol.ErrCodeResumeFailed
	case errors.Is(err, errRateLimited):
		return protocol.ErrCodeRateLimited
	case errors.Is(err, errTimeout):
		return protocol.ErrCodeTimeout
	}
	return protocol.ErrCodeInternal
}

// Exported sentinel errors: buses (server/cluster) and embedders return and check them.
var (
	ErrDraining      = errors.New("server is draining")
	ErrNoMatch       = errors.New("no such match")
	ErrForbidden     = errors.New("forbidden")
	ErrBadRequest    = errors.New("bad request")
	ErrNotInMatch    = errors.New("not in a match")
	ErrAlreadyJoined = errors.New("already in a match")
	ErrResume        = errors.New("cannot resume")
	ErrRateLimited   = errors.New("rate limited")
	ErrTimeout       = errors.New("timed out")
	ErrDropped       = errors.New("input dropped") // a match inbox (or the relay to it) is full
	ErrUnavailable   = errors.New("unavailable")   // the owner of a match cannot be reached
)

// The package's own short names for them.
var (
	errDraining      = ErrDraining
	errNoMatch       = ErrNoMatch
	errForbidden     = ErrForbidden
	errBadRequest    = ErrBadRequest
	errNotInMatch    = ErrNotInMatch
	errAlreadyJoined = ErrAlreadyJoined
	errResume        = ErrResume
	errRateLimited   = ErrRateLimited
	errTimeout       = ErrTimeout
)

// CodeError is an error that carries its protocol code: a cluster bus turns an error answered
// by another instance back into one, so the client sees the code the owner chose.
type CodeError struct {
	Code protocol.ErrorCode
	Msg  string
}

func (e *CodeError) Error() string { return e.Msg }

// ErrorCode implements the coded-error interface codeOf looks for.
func (e *CodeError) ErrorCode() protocol.ErrorCode { return e.Code }

// CodeOf is the protocol error code for err (the one mapping, exported for buses).
func CodeOf(err error) protocol.ErrorCode { return codeOf(err) }

// httpStatus is the HTTP status for an error code.
func httpStatus(c protocol.ErrorCode) int {
	switch c {
	case protocol.ErrCodeBadRequest, protocol.ErrCodeMalformed, protocol.ErrCodeUnknownOp:
		return http.StatusBadRequest
	case protocol.ErrCodeUnauthorized, protocol.ErrCodeResumeFailed:
		return http.StatusUnauthorized
	case protocol.ErrCodeForbidden:
		return http.StatusForbidden
	case protocol.ErrCodeNotFound:
		return http.StatusNotFound
	case protocol.ErrCodeMatchFull, protocol.ErrCodeJoinRefused, protocol.ErrCodeMatchEnded,
		protocol.ErrCodeAlreadyJoined, protocol.ErrCodeNotInMatch, protocol.ErrCodeConflict:
		return http.StatusConflict
	case protocol.ErrCodeExpired:
		return http.StatusGone
	case protocol.ErrCodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case protocol.ErrCodeRateLimited:
		return http.StatusTooManyRequests
	case protocol.ErrCodeUnavailable:
		return http.StatusServiceUnavailable
	case protocol.ErrCodeTimeout:
		return http.StatusGatewayTimeout
	case protocol.ErrCodeUnsupported:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// codeName is the error code's name from the protocol's table.
func codeName(c protocol.ErrorCode) string {
	for _, e := range protocol.Codes().Errors {
		if e.Value == int(c) {
			return e.Name
		}
	}
	return "INTERNAL"
}
