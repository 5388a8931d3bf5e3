package floor

import "encoding/binary"

// The floor writes its few messages with protocol's append functions (plain byte appends, no
// msgpack library, no reflection) and reads the two fields it needs with the minimal, unvalidated
// parsers below: the floor measures the transport, not decoding.

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
