package protocol

import (
	"encoding/binary"
	"errors"
	"math"
	"unicode/utf8"
)

// MaxDepth is how deeply values may nest in an untrusted frame: the message array itself is
// level 1, so a game payload gets MaxDepth-1 levels of its own.
const MaxDepth = 16

// Reader reads msgpack values from untrusted bytes without allocating.
//
// Every declared length is checked against the bytes left before anything is read (an array
// of n elements needs at least n more bytes, a map 2n), nesting is capped at MaxDepth, strings
// must be valid UTF-8, floats must be finite, and ext types other than the msgpack timestamp
// (-1) are refused. Because of these checks, decoding a frame can never allocate more than a
// small multiple of its own size, whatever the headers claim. Byte slices returned by a Reader
// alias its input: copy them to keep them beyond the input's lifetime.
//
// A Reader is a value type used by one goroutine; the zero value reads nothing.
type Reader struct {
	b   []byte
	off int
}

// NewReader returns a Reader over b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Reset makes r read b from its start.
func (r *Reader) Reset(b []byte) { r.b, r.off = b, 0 }

// Offset is the number of bytes consumed so far.
func (r *Reader) Offset() int { return r.off }

// Remaining is the number of bytes left.
func (r *Reader) Remaining() int { return len(r.b) - r.off }

func (r *Reader) fail(err error, what string) error {
	return &DecodeError{Offset: r.off, What: what, Err: err}
}

// End returns ErrTrailing if bytes remain.
func (r *Reader) End() error {
	if r.off != len(r.b) {
		return r.fail(ErrTrailing, "end of message")
	}
	return nil
}

// Peek returns the next type byte without consuming it.
func (r *Reader) Peek() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.fail(ErrTruncated, "type byte")
	}
	return r.b[r.off], nil
}

// TryNil consumes a nil and reports true if the next value is nil.
func (r *Reader) TryNil() bool {
	if r.off < len(r.b) && r.b[r.off] == 0xc0 {
		r.off++
		return true
	}
	return false
}

// need returns the next n bytes and advances.
func (r *Reader) need(n int, what string) ([]byte, error) {
	if n < 0 || len(r.b)-r.off < n {
		return nil, r.fail(ErrTruncated, what)
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p, nil
}

// length reads an n-byte big-endian length.
func (r *Reader) length(n int, what string) (int, error) {
	p, err := r.need(n, what)
	if err != nil {
		return 0, err
	}
	var v uint32
	switch n {
	case 1:
		v = uint32(p[0])
	case 2:
		v = uint32(binary.BigEndian.Uint16(p))
	default:
		v = binary.BigEndian.Uint32(p)
	}
	// A length can never exceed the bytes left (every element or byte it counts takes at least
	// one): refuse it here, before anyone allocates for it, and with the same error whatever
	// the header's width.
	if uint64(v) > uint64(r.Remaining()) {
		return 0, r.fail(ErrMalformed, what)
	}
	return int(v), nil
}

// ArrayLen reads an array header. The length is guaranteed to be at most Remaining().
func (r *Reader) ArrayLen() (int, error) {
	start := r.off
	c, err := r.Peek()
	if err != nil {
		return 0, err
	}
	r.off++
	var n int
	switch {
	case c&0xf0 == 0x90:
		n = int(c & 0x0f)
	case c == 0xdc:
		n, err = r.length(2, "array16 length")
	case c == 0xdd:
		n, err = r.length(4, "array32 length")
	default:
		r.off = start
		return 0, r.fail(ErrType, "array")
	}
	if err != nil {
		return 0, err
	}
	if n > r.Remaining() {
		r.off = start
		return 0, r.fail(ErrMalformed, "array length beyond frame")
	}
	return n, nil
}

// MapLen reads a map header. 2*length is guaranteed to be at most Remaining().
func (r *Reader) MapLen() (int, error) {
	start := r.off
	c, err := r.Peek()
	if err != nil {
		return 0, err
	}
	r.off++
	var n int
	switch {
	case c&0xf0 == 0x80:
		n = int(c & 0x0f)
	case c == 0xde:
		n, err = r.length(2, "map16 length")
	case c == 0xdf:
		n, err = r.length(4, "map32 length")
	default:
		r.off = start
		return 0, r.fail(ErrType, "map")
	}
	if err != nil {
		return 0, err
	}
	if n > r.Remaining()/2 {
		r.off = start
		return 0, r.fail(ErrMalformed, "map length beyond frame")
	}
	return n, nil
}

// Uint reads a non-negative integer (any msgpack int form).
func (r *Reader) Uint() (uint64, error) {
	start := r.off
	v, neg, err := r.integer()
	if err != nil {
		return 0, err
	}
	if neg {
		r.off = start
		return 0, r.fail(ErrInvalid, "negative where unsigned expected")
	}
	return v, nil
}

// Uint32 reads a non-negative integer that fits 32 bits.
func (r *Reader) Uint32() (uint32, error) {
	start := r.off
	v, err := r.Uint()
	if err != nil {
		return 0, err
	}
	if v > math.MaxUint32 {
		r.off = start
		return 0, r.fail(ErrInvalid, "uint32 out of range")
	}
	return uint32(v), nil
}

// Int reads a signed integer that fits int64.
func (r *Reader) Int() (int64, error) {
	start := r.off
	v, neg, err := r.integer()
	if err != nil {
		return 0, err
	}
	if !neg && v > math.MaxInt64 {
		r.off = start
		return 0, r.fail(ErrInvalid, "int64 out of range")
	}
	return int64(v), nil
}

// integer returns the two's-complement bits and whether the value is negative.
func (r *Reader) integer() (uint64, bool, error) {
	c, err := r.Peek()
	if err != nil {
		return 0, false, err
	}
	switch {
	case c <= 0x7f:
		r.off++
		return uint64(c), false, nil
	case c >= 0xe0:
		r.off++
		return uint64(int64(int8(c))), true, nil
	}
	var size int
	signed := false
	switch c {
	case 0xcc, 0xd0:
		size = 1
	case 0xcd, 0xd1:
		size = 2
	case 0xce, 0xd2:
		size = 4
	case 0xcf, 0xd3:
		size = 8
	default:
		return 0, false, r.fail(ErrType, "integer")
	}
	signed = c >= 0xd0
	r.off++
	p, err := r.need(size, "integer")
	if err != nil {
		r.off--
		return 0, false, err
	}
	var u uint64
	switch size {
	case 1:
		u = uint64(p[0])
		if signed {
			u = uint64(int64(int8(p[0])))
		}
	case 2:
		u = uint64(binary.BigEndian.Uint16(p))
		if signed {
			u = uint64(int64(int16(u)))
		}
	case 4:
		u = uint64(binary.BigEndian.Uint32(p))
		if signed {
			u = uint64(int64(int32(u)))
		}
	case 8:
		u = binary.BigEndian.Uint64(p)
	}
	return u, signed && int64(u) < 0, nil
}

// Float reads any number (int, float32 or float64) as a float64. NaN and ±Inf are refused.
func (r *Reader) Float() (float64, error) {
	start := r.off
	c, err := r.Peek()
	if err != nil {
		return 0, err
	}
	var f float64
	switch c {
	case 0xca:
		r.off++
		p, err := r.need(4, "float32")
		if err != nil {
			r.off = start
			return 0, err
		}
		f = float64(math.Float32frombits(binary.BigEndian.Uint32(p)))
	case 0xcb:
		r.off++
		p, err := r.need(8, "float64")
		if err != nil {
			r.off = start
			return 0, err
		}
		f = math.Float64frombits(binary.BigEndian.Uint64(p))
	default:
		v, neg, err := r.integer()
		if err != nil {
			if errors.Is(err, ErrType) {
				return 0, r.fail(ErrType, "number")
			}
			return 0, err // a truncated integer is ErrTruncated, not a wrong type
		}
		if neg {
			return float64(int64(v)), nil
		}
		return float64(v), nil
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		r.off = start
		return 0, r.fail(ErrInvalid, "non-finite float")
	}
	return f, nil
}

// Bool reads a boolean.
func (r *Reader) Bool() (bool, error) {
	c, err := r.Peek()
	if err != nil {
		return false, err
	}
	switch c {
	case 0xc2:
		r.off++
		return false, nil
	case 0xc3:
		r.off++
		return true, nil
	}
	return false, r.fail(ErrType, "bool")
}

// StrBytes reads a str and returns its bytes (aliasing the input). Invalid UTF-8 is refused.
func (r *Reader) StrBytes() ([]byte, error) {
	start := r.off
	c, err := r.Peek()
	if err != nil {
		return nil, err
	}
	r.off++
	var n int
	switch {
	case c&0xe0 == 0xa0:
		n = int(c & 0x1f)
	case c == 0xd9:
		n, err = r.length(1, "str8 length")
	case c == 0xda:
		n, err = r.length(2, "str16 length")
	case c == 0xdb:
		n, err = r.length(4, "str32 length")
	default:
		r.off = start
		return nil, r.fail(ErrType, "str")
	}
	if err != nil {
		r.off = start
		return nil, err
	}
	p, err := r.need(n, "str bytes")
	if err != nil {
		r.off = start
		return nil, err
	}
	if !utf8.Valid(p) {
		r.off = start
		return nil, r.fail(ErrInvalid, "invalid UTF-8")
	}
	return p, nil
}

// String reads a str into a new Go string; max bounds its length in bytes.
func (r *Reader) String(max int) (string, error) {
	start := r.off
	p, err := r.StrBytes()
	if err != nil {
		return "", err
	}
	if len(p) > max {
		r.off = start
		return "", r.fail(ErrInvalid, "string too long")
	}
	return string(p), nil
}

// OptString reads a str or nil (as "").
func (r *Reader) OptString(max int) (string, error) {
	if r.TryNil() {
		return "", nil
	}
	return r.String(max)
}

// BinBytes reads a bin and returns its bytes (aliasing the input).
func (r *Reader) BinBytes() ([]byte, error) {
	start := r.off
	c, err := r.Peek()
	if err != nil {
		return nil, err
	}
	r.off++
	var n int
	switch c {
	case 0xc4:
		n, err = r.length(1, "bin8 length")
	case 0xc5:
		n, err = r.length(2, "bin16 length")
	case 0xc6:
		n, err = r.length(4, "bin32 length")
	default:
		r.off = start
		return nil, r.fail(ErrType, "bin")
	}
	if err != nil {
		r.off = start
		return nil, err
	}
	p, err := r.need(n, "bin bytes")
	if err != nil {
		r.off = start
	}
	return p, err
}

// Raw validates the next value (to depth MaxDepth-depth) and returns its bytes, aliasing the
// input. depth is the nesting level the value sits at: 1 for a whole frame or payload (as in
// Validate), 2 for an element of the message array (the message array is level 1).
func (r *Reader) Raw(depth int) ([]byte, error) {
	start := r.off
	if err := r.skip(depth); err != nil {
		r.off = start
		return nil, err
	}
	return r.b[start:r.off], nil
}

// Skip validates and skips the next value, as Raw does.
func (r *Reader) Skip(depth int) error {
	_, err := r.Raw(depth)
	return err
}

// skip walks one value. Work is linear in the bytes: every element consumes at least one byte.
func (r *Reader) skip(depth int) error {
	if depth > MaxDepth {
		return r.fail(ErrTooDeep, "value")
	}
	c, err := r.Peek()
	if err != nil {
		return err
	}
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		r.off++
		return nil
	case c&0xf0 == 0x80 || c == 0xde || c == 0xdf:
		n, err := r.MapLen()
		if err != nil {
			return err
		}
		for i := 0; i < 2*n; i++ {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case c&0xf0 == 0x90 || c == 0xdc || c == 0xdd:
		n, err := r.ArrayLen()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case c&0xe0 == 0xa0 || c == 0xd9 || c == 0xda || c == 0xdb:
		_, err := r.StrBytes()
		return err
	case c == 0xc4 || c == 0xc5 || c == 0xc6:
		_, err := r.BinBytes()
		return err
	case c == 0xca || c == 0xcb:
		_, err := r.Float()
		return err
	case c >= 0xcc && c <= 0xd3:
		_, _, err := r.integer()
		return err
	case c == 0xd6 || c == 0xd7: // fixext 4 / 8: only the timestamp type
		return r.timestamp(c)
	case c == 0xc7: // ext8: only the 96-bit timestamp
		return r.timestamp(c)
	}
	// 0xc1 (never used), fixext 1/2/16, ext16, ext32: refused.
	return r.fail(ErrInvalid, "unsupported msgpack type")
}

func (r *Reader) timestamp(c byte) error {
	start := r.off
	r.off++
	size := 4
	switch c {
	case 0xd7:
		size = 8
	case 0xc7:
		n, err := r.length(1, "ext8 length")
		if err != nil {
			r.off = start
			return err
		}
		if n != 12 {
			r.off = start
			return r.fail(ErrInvalid, "ext other than timestamp")
		}
		size = 12
	}
	p, err := r.need(1+size, "timestamp")
	if err != nil {
		r.off = start
		return err
	}
	if int8(p[0]) != -1 {
		r.off = start
		return r.fail(ErrInvalid, "ext other than timestamp")
	}
	return nil
}

// Validate checks that b is exactly one msgpack value that a Reader accepts (see Reader).
func Validate(b []byte) error {
	r := NewReader(b)
	if err := r.skip(1); err != nil {
		return err
	}
	return r.End()
}
