package loadgen

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The epoll clients' own WebSocket framing (RFC 6455 §5): server → client frames are unmasked,
// client → server frames masked. Only what the load generator needs: no extensions (it never
// offers permessage-deflate), messages assembled from fragments, control frames answered.

// WebSocket opcodes.
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xa
)

// maxFrame is the largest payload accepted from the server (as the gws clients' ReadMaxPayloadSize).
const maxFrame = 1 << 20

var (
	errFrameMasked   = errors.New("websocket: masked server frame")
	errFrameReserved = errors.New("websocket: reserved bits set (no extension was negotiated)")
	errFrameTooLarge = fmt.Errorf("websocket: frame over %d bytes", maxFrame)
	errFrameControl  = errors.New("websocket: bad control frame (fragmented or over 125 bytes)")
	errFrameOpcode   = errors.New("websocket: unknown opcode")
	errFrameSequence = errors.New("websocket: continuation without a message, or a message inside one")
)

// frame is one parsed server frame; payload aliases the input.
type frame struct {
	fin     bool
	op      byte
	payload []byte
	size    int // header + payload: bytes consumed
}

// parseFrame parses the frame at the start of b. ok is false (and err nil) while b holds only
// part of it.
func parseFrame(b []byte) (f frame, ok bool, err error) {
	if len(b) < 2 {
		return f, false, nil
	}
	f.fin, f.op = b[0]&0x80 != 0, b[0]&0x0f
	if b[0]&0x70 != 0 {
		return f, false, errFrameReserved
	}
	if b[1]&0x80 != 0 {
		return f, false, errFrameMasked
	}
	switch f.op {
	case wsContinuation, wsText, wsBinary, wsClose, wsPing, wsPong:
	default:
		return f, false, errFrameOpcode
	}
	n, hdr := uint64(b[1]&0x7f), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return f, false, nil
		}
		n, hdr = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return f, false, nil
		}
		n, hdr = binary.BigEndian.Uint64(b[2:]), 10
	}
	if f.op >= wsClose && (!f.fin || n > 125) {
		return f, false, errFrameControl
	}
	if n > maxFrame {
		return f, false, errFrameTooLarge
	}
	if uint64(len(b)-hdr) < n {
		return f, false, nil
	}
	f.payload = b[hdr : hdr+int(n)]
	f.size = hdr + int(n)
	return f, true, nil
}

// reassembler joins fragmented messages; an unfragmented one passes through without a copy.
type reassembler struct {
	buf    []byte
	active bool
}

// add takes one data frame (text, binary or continuation) and returns a complete message, or
// nil while one is being assembled. The returned slice is valid until the next call.
func (r *reassembler) add(f frame) ([]byte, error) {
	switch {
	case f.op == wsContinuation && !r.active, f.op != wsContinuation && r.active:
		return nil, errFrameSequence
	case f.op != wsContinuation && f.fin:
		return f.payload, nil
	}
	if len(r.buf)+len(f.payload) > maxFrame {
		return nil, errFrameTooLarge
	}
	r.buf = append(r.buf, f.payload...)
	r.active = !f.fin
	if r.active {
		return nil, nil
	}
	msg := r.buf
	r.buf = r.buf[:0]
	return msg, nil
}

// clientHeaderRoom is what appendClientFrame needs before a payload of up to 125 bytes.
const clientHeaderRoom = 6

// appendClientFrame appends a masked final frame of op with payload, masked with key.
func appendClientFrame(b []byte, op byte, payload []byte, key uint32) []byte {
	b = append(b, 0x80|op)
	n := len(payload)
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = binary.BigEndian.AppendUint32(b, key)
	start := len(b)
	b = append(b, payload...)
	maskBytes(b[start:], key)
	return b
}

// maskBytes XORs p with the 4-byte masking key (big-endian order, as on the wire).
func maskBytes(p []byte, key uint32) {
	k := [4]byte{byte(key >> 24), byte(key >> 16), byte(key >> 8), byte(key)}
	for i := range p {
		p[i] ^= k[i&3]
	}
}
