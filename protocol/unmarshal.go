package protocol

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// Unmarshal decodes untrusted msgpack into v with github.com/vmihailenco/msgpack/v5 after
// Validate has checked it, so that no declared length can exceed the bytes present (see the
// package doc for why that matters with v5.4.x). Use it for game payloads and any other msgpack
// that arrives from the network.
//
// A panic inside the library is returned as an error wrapping ErrInvalid: v5.4.1 panics, for
// instance, on a map key Go cannot hash (an array or a map) when v is a map[any]any.
//
// One more refusal guards the library: where it expects a map it skips an extension header and
// reads the extension's body as the map's header, and it sizes map[string]any and map[any]any
// by that count before reading any entry. So 10 bytes, a timestamp whose body begins with
// map32 0x30303030, made it allocate a table for 808 million entries (FuzzUnmarshal found it;
// the process was killed). When v can hold a map (v is or contains a map type, other than behind
// an interface), a timestamp whose body begins with a map16/map32 header counting more entries
// than the bytes after it could hold is refused with ErrInvalid. The price: about 1% of valid
// 64-bit timestamps (those whose nanoseconds fall in 930,086,912–939,524,095) cannot be decoded
// into such a v; decoded into any (or a struct field of type any or time.Time) they are fine.
func Unmarshal(b []byte, v any) (err error) {
	if err := Validate(b); err != nil {
		return err
	}
	if holdsMap(v) {
		if off := extReadAsMap(b); off >= 0 {
			return &DecodeError{Offset: off, What: "timestamp whose body would be read as a map header", Err: ErrInvalid}
		}
	}
	defer func() {
		if p := recover(); p != nil {
			err = &DecodeError{What: fmt.Sprintf("msgpack decoder panicked (%v)", p), Err: ErrInvalid}
		}
	}()
	return msgpack.Unmarshal(b, v)
}

var mapHolders sync.Map // reflect.Type → bool

// holdsMap reports whether decoding into v may read a map length where the bytes hold an
// extension: v is (or points to, or holds in a slice, array or struct field) a map, or a type
// with its own decoder. A nil interface is decoded by the library's interface path, which never
// reads through an extension; a non-nil one is decoded into its dynamic value.
func holdsMap(v any) bool {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) && !rv.IsNil() {
		if rv.Kind() == reflect.Pointer && rv.Type().Elem().Kind() != reflect.Interface {
			break
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() || (rv.Kind() == reflect.Interface && rv.IsNil()) {
		return false
	}
	return typeHoldsMap(rv.Type(), map[reflect.Type]bool{})
}

var (
	customDecoder = reflect.TypeFor[msgpack.CustomDecoder]()
	unmarshaler   = reflect.TypeFor[msgpack.Unmarshaler]()
)

func typeHoldsMap(t reflect.Type, seen map[reflect.Type]bool) bool {
	if got, ok := mapHolders.Load(t); ok {
		return got.(bool)
	}
	if seen[t] {
		return false // a recursive type: its other fields decide
	}
	seen[t] = true
	held := false
	pt := reflect.PointerTo(t)
	switch {
	case t.Implements(customDecoder) || t.Implements(unmarshaler) || pt.Implements(customDecoder) || pt.Implements(unmarshaler):
		held = true
	case t.Kind() == reflect.Map:
		held = true
	case t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		held = typeHoldsMap(t.Elem(), seen)
	case t.Kind() == reflect.Struct:
		for i := 0; i < t.NumField() && !held; i++ {
			held = typeHoldsMap(t.Field(i).Type, seen)
		}
	}
	mapHolders.Store(t, held)
	return held
}

// extReadAsMap returns the offset of the first timestamp in b (already validated) whose body
// begins with a map16 or map32 header declaring more entries than the bytes after that header
// could hold, or -1.
func extReadAsMap(b []byte) int {
	for off := 0; off < len(b); {
		c := b[off]
		hdr, size := 0, 0
		switch c {
		case 0xd6:
			hdr, size = 2, 4
		case 0xd7:
			hdr, size = 2, 8
		case 0xc7:
			hdr, size = 3, 12
		default:
			off += headLen(b, off)
			continue
		}
		body := b[off+hdr : off+hdr+size]
		var n, after int
		switch body[0] {
		case 0xde:
			n, after = int(binary.BigEndian.Uint16(body[1:3])), len(b)-(off+hdr+3)
		case 0xdf:
			n, after = int(binary.BigEndian.Uint32(body[1:5])), len(b)-(off+hdr+5)
		}
		if n > after/2 {
			return off
		}
		off += hdr + size
	}
	return -1
}

// headLen is how far to step from b[off] to the next value header of a validated buffer: past
// a whole scalar, string or bin, past only the header of a map or an array (their elements are
// the values that follow).
func headLen(b []byte, off int) int {
	c := b[off]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3 || c&0xf0 == 0x80 || c&0xf0 == 0x90:
		return 1
	case c&0xe0 == 0xa0:
		return 1 + int(c&0x1f)
	case c == 0xde || c == 0xdc || c == 0xcd || c == 0xd1:
		return 3
	case c == 0xdf || c == 0xdd || c == 0xce || c == 0xd2 || c == 0xca:
		return 5
	case c == 0xcc || c == 0xd0:
		return 2
	case c == 0xcf || c == 0xd3 || c == 0xcb:
		return 9
	case c == 0xd9 || c == 0xc4:
		return 2 + int(b[off+1])
	case c == 0xda || c == 0xc5:
		return 3 + int(binary.BigEndian.Uint16(b[off+1:]))
	case c == 0xdb || c == 0xc6:
		return 5 + int(binary.BigEndian.Uint32(b[off+1:]))
	}
	return 1 // not reached in a validated buffer
}

// Marshal encodes v with github.com/vmihailenco/msgpack/v5. Maps are encoded with sorted keys so
// the bytes are deterministic.
func Marshal(v any) ([]byte, error) {
	return marshal(v)
}
