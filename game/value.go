package game

import (
	"math"

	"github.com/tickrelay/tickrelay/protocol"
)

// Value is a field value: a small tagged union so that setting numbers never allocates.
// Construct one with Float32, Float64, Int, Uint, Bool, Str, Nil, Raw or Any.
type Value struct {
	kind valueKind
	n    uint64 // bits of the number or bool
	s    string // string, or raw msgpack bytes
}

type valueKind uint8

const (
	kindNil valueKind = iota
	kindBool
	kindInt
	kindUint
	kindF32
	kindF64
	kindStr
	kindRaw
)

func Nil() Value { return Value{} }
func Bool(b bool) Value {
	v := Value{kind: kindBool}
	if b {
		v.n = 1
	}
	return v
}
func Int(i int64) Value       { return Value{kind: kindInt, n: uint64(i)} }
func Uint(u uint64) Value     { return Value{kind: kindUint, n: u} }
func Float32(f float32) Value { return Value{kind: kindF32, n: uint64(math.Float32bits(f))} }
func Float64(f float64) Value { return Value{kind: kindF64, n: math.Float64bits(f)} }
func Str(s string) Value      { return Value{kind: kindStr, s: s} }

// Raw wraps already-encoded msgpack (one value). The bytes are copied.
func Raw(b []byte) Value { return Value{kind: kindRaw, s: string(b)} }

// Any encodes v with msgpack (github.com/vmihailenco/msgpack/v5); use it for lists, maps and
// structs. It allocates: prefer the typed constructors for values that change every tick.
func Any(v any) (Value, error) {
	switch x := v.(type) {
	case nil:
		return Nil(), nil
	case bool:
		return Bool(x), nil
	case int:
		return Int(int64(x)), nil
	case int64:
		return Int(x), nil
	case uint32:
		return Uint(uint64(x)), nil
	case float32:
		return Float32(x), nil
	case float64:
		return Float64(x), nil
	case string:
		return Str(x), nil
	case Value:
		return x, nil
	}
	b, err := protocol.Marshal(v)
	if err != nil {
		return Value{}, err
	}
	return Value{kind: kindRaw, s: string(b)}, nil
}

// MustAny is Any that panics on an encoding error (for values known to encode).
func MustAny(v any) Value {
	x, err := Any(v)
	if err != nil {
		panic(err)
	}
	return x
}

// IsNil reports whether v is nil.
func (v Value) IsNil() bool { return v.kind == kindNil }

// Float returns v as a float64 (numbers only; 0 otherwise).
func (v Value) Float() float64 {
	switch v.kind {
	case kindF32:
		return float64(math.Float32frombits(uint32(v.n)))
	case kindF64:
		return math.Float64frombits(v.n)
	case kindInt:
		return float64(int64(v.n))
	case kindUint:
		return float64(v.n)
	}
	return 0
}

// Int returns v as an int64 (integers only; floats are truncated; 0 otherwise).
func (v Value) Int() int64 {
	switch v.kind {
	case kindInt, kindUint:
		return int64(v.n)
	case kindF32, kindF64:
		return int64(v.Float())
	case kindBool:
		return int64(v.n)
	}
	return 0
}

// Bool returns v as a bool.
func (v Value) Bool() bool { return v.kind == kindBool && v.n == 1 }

// String returns v's text for strings, "" otherwise.
func (v Value) String() string {
	if v.kind == kindStr {
		return v.s
	}
	return ""
}

// RawBytes returns v's msgpack encoding.
func (v Value) RawBytes() []byte { return v.Append(nil) }

// Append appends v's msgpack encoding to b.
func (v Value) Append(b []byte) []byte {
	switch v.kind {
	case kindNil:
		return protocol.AppendNil(b)
	case kindBool:
		return protocol.AppendBool(b, v.n == 1)
	case kindInt:
		return protocol.AppendInt(b, int64(v.n))
	case kindUint:
		return protocol.AppendUint(b, v.n)
	case kindF32:
		return protocol.AppendFloat32(b, math.Float32frombits(uint32(v.n)))
	case kindF64:
		return protocol.AppendFloat64(b, math.Float64frombits(v.n))
	case kindStr:
		return protocol.AppendString(b, v.s)
	case kindRaw:
		return append(b, v.s...)
	}
	return b
}
