package protocol

import (
	"errors"
	"fmt"
)

// Sentinel errors of the codec. Every decoding error wraps one of them (check with errors.Is),
// so callers can map a failure to an error code without parsing messages.
var (
	// ErrTruncated: the bytes end inside a value.
	ErrTruncated = errors.New("protocol: truncated message")
	// ErrMalformed: the bytes are not valid msgpack, or a declared length exceeds the bytes left.
	ErrMalformed = errors.New("protocol: malformed msgpack")
	// ErrType: a value has the wrong msgpack type for its position.
	ErrType = errors.New("protocol: wrong type")
	// ErrTooDeep: values nest deeper than MaxDepth.
	ErrTooDeep = errors.New("protocol: nesting too deep")
	// ErrTrailing: bytes remain after the message.
	ErrTrailing = errors.New("protocol: trailing bytes")
	// ErrUnknownOp: the op code is not one this side accepts.
	ErrUnknownOp = errors.New("protocol: unknown op")
	// ErrInvalid: the value is well-formed but not allowed (NaN, Inf, invalid UTF-8, out of range).
	ErrInvalid = errors.New("protocol: invalid value")
	// ErrTooLarge: the frame is larger than the configured limit.
	ErrTooLarge = errors.New("protocol: frame too large")
)

// DecodeError says where decoding failed. It wraps one of the sentinel errors.
type DecodeError struct {
	Offset int    // byte offset in the frame
	What   string // what was being read
	Err    error  // one of the sentinels above
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%v: %s at offset %d", e.Err, e.What, e.Offset)
}

func (e *DecodeError) Unwrap() error { return e.Err }
