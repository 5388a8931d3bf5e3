package floor

import (
	"encoding/binary"
	"math"
)

// The few msgpack forms the floor writes and reads, by hand (see protocol/msgpack.go for the
// real codec; these produce the same bytes).

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return append(b, 0xcd, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return append(b, 0xce, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	b = append(b, 0xcf)
	return binary.BigEndian.AppendUint64(b, v)
}

func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n <= 31:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xda, byte(n>>8), byte(n))
	default:
		b = append(b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, s...)
}

func appendMapHeader(b []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xde, byte(n>>8), byte(n))
	}
	return append(b, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendF32(b []byte, v float32) []byte {
	b = append(b, 0xca)
	return binary.BigEndian.AppendUint32(b, math.Float32bits(v))
}

// errorFrame encodes ERROR [37, code, message, refOp, refID].
func errorFrame(code int, msg string, refOp byte, refID uint32) []byte {
	b := []byte{0x95, opError}
	b = appendUint(b, uint64(code))
	b = appendStr(b, msg)
	b = appendUint(b, uint64(refOp))
	return appendUint(b, uint64(refID))
}

// readUint reads a msgpack unsigned integer (up to 32 bits) at b[i:]; it returns the value, the
// index after it and whether it was one.
func readUint(b []byte, i int) (uint64, int, bool) {
	if i >= len(b) {
		return 0, i, false
	}
	c := b[i]
	switch {
	case c <= 0x7f:
		return uint64(c), i + 1, true
	case c == 0xcc && i+1 < len(b):
		return uint64(b[i+1]), i + 2, true
	case c == 0xcd && i+2 < len(b):
		return uint64(binary.BigEndian.Uint16(b[i+1:])), i + 3, true
	case c == 0xce && i+4 < len(b):
		return uint64(binary.BigEndian.Uint32(b[i+1:])), i + 5, true
	}
	return 0, i, false
}

// readStr reads a msgpack str (fixstr or str8) at b[i:].
func readStr(b []byte, i int) (string, int, bool) {
	if i >= len(b) {
		return "", i, false
	}
	c := b[i]
	var n, start int
	switch {
	case c&0xe0 == 0xa0:
		n, start = int(c&0x1f), i+1
	case c == 0xd9 && i+1 < len(b):
		n, start = int(b[i+1]), i+2
	default:
		return "", i, false
	}
	if start+n > len(b) {
		return "", i, false
	}
	return string(b[start : start+n]), start + n, true
}
