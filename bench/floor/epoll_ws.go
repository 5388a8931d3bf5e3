//go:build linux

package floor

import (
	"encoding/binary"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPingFrame    = 0x9
	opPongFrame    = 0xa
)

// frames handles every complete client frame in data (masked, as RFC 6455 requires of
// clients) and returns the bytes used. Fragmented messages are not used by the load generator
// and close the connection, as do unmasked frames and frames over the read limit.
func (s *EpollServer) frames(c *econn, data []byte) (int, error) {
	used := 0
	for s.conn(c.fd) == c {
		b := data[used:]
		if len(b) < 2 {
			return used, nil
		}
		fin, op := b[0]&0x80 != 0, b[0]&0x0f
		if b[1]&0x80 == 0 || b[0]&0x70 != 0 {
			return used, errProtocol // unmasked, or reserved bits without an extension
		}
		n, hdr := uint64(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				return used, nil
			}
			n, hdr = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return used, nil
			}
			n, hdr = binary.BigEndian.Uint64(b[2:]), 10
		}
		if n > uint64(s.cfg.ReadLimit) {
			s.closeWS(c, 1009, "frame too large")
			return used, nil
		}
		if uint64(len(b)) < uint64(hdr+4)+n {
			return used, nil
		}
		key := b[hdr : hdr+4]
		p := b[hdr+4 : hdr+4+int(n)]
		for i := range p {
			p[i] ^= key[i&3]
		}
		used += hdr + 4 + int(n)
		if !fin || op == opContinuation {
			return used, errProtocol
		}
		switch op {
		case opBinary:
			s.message(c, p)
		case opPingFrame:
			s.send(c, opPongFrame, p)
		case opClose:
			s.closeWS(c, 1000, "")
			return used, nil
		case opText, opPongFrame:
		default:
			return used, errProtocol
		}
	}
	return used, nil
}

// closeWS sends a close frame and closes the connection once it is written.
func (s *EpollServer) closeWS(c *econn, code uint16, reason string) {
	c.closing = true
	s.send(c, opClose, []byte{byte(code >> 8), byte(code)}, []byte(reason))
}

// message handles INPUT (record the seq), JOIN and PING, like the gws floor's OnMessage.
func (s *EpollServer) message(c *econn, b []byte) {
	if len(b) < 3 || b[0]&0xf0 != 0x90 {
		return
	}
	switch b[1] {
	case opInput: // [4, seq, seen, payload]
		if seq, _, ok := readUint(b, 2); ok {
			c.lastSeq = uint32(seq)
		}
	case opJoin: // [2, req, match, ticket, meta]
		req, i, ok := readUint(b, 2)
		if !ok {
			return
		}
		id, _, ok := readStr(b, i)
		switch {
		case !ok || id == "":
			s.send(c, opBinary, protocol.ErrorFrame(errMalformed, "join needs a match id", protocol.OpJoin, uint32(req)))
		case c.m != nil:
			s.send(c, opBinary, protocol.ErrorFrame(errAlreadyJoined, "already in a match", protocol.OpJoin, uint32(req)))
		default:
			m := s.matchFor(id, 0, false)
			if m == nil {
				s.send(c, opBinary, protocol.ErrorFrame(errNotFound, "match id too long", protocol.OpJoin, uint32(req)))
			} else if !m.add(s, c, uint32(req)) {
				s.send(c, opBinary, protocol.ErrorFrame(errMatchFull, "match full", protocol.OpJoin, uint32(req)))
			}
		}
	case opPing: // [6, t] → [36, t, serverTime]
		if b[0] != 0x92 {
			return
		}
		out := append([]byte{0x93, opPong}, b[2:]...)
		out = protocol.AppendUint(out, uint64(time.Now().UnixMilli()))
		s.send(c, opBinary, out)
	}
}
