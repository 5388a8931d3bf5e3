package protocol

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Unmarshal decodes untrusted msgpack into v with github.com/vmihailenco/msgpack/v5 after
// Validate has checked it, so that no declared length can exceed the bytes present (see the
// package doc for why that matters with v5.4.x). Use it for game payloads and any other msgpack
// that arrives from the network.
//
// A panic inside the library is returned as an error wrapping ErrInvalid: v5.4.1 panics, for
// instance, on a map key Go cannot hash (an array or a map) when v is a map[any]any.
func Unmarshal(b []byte, v any) (err error) {
	if err := Validate(b); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = &DecodeError{What: fmt.Sprintf("msgpack decoder panicked (%v)", p), Err: ErrInvalid}
		}
	}()
	return msgpack.Unmarshal(b, v)
}

// Marshal encodes v with github.com/vmihailenco/msgpack/v5. Maps are encoded with sorted keys so
// the bytes are deterministic.
func Marshal(v any) ([]byte, error) {
	return marshal(v)
}
