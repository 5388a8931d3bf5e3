package server

import "encoding/binary"

// WebSocket framing for the tick reader (tickread.go): just enough of RFC 6455 to recognise,
// in bytes the match goroutine read from a client's socket, the frames it may handle itself
// (complete, masked, unfragmented binary frames and pongs) and where anything else begins.
// Everything else — and every error — is gws's business: those bytes are handed back to it
// untouched, so its checks, limits and close codes apply exactly as before.

// WebSocket opcodes (RFC 6455 §5.2).
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xA
)

// wsHeader is a parsed frame header.
type wsHeader struct {
	fin    bool
	rsv    byte // RSV1-3 bits (0x70 of the first byte)
	op     byte
	masked bool
	key    [4]byte
	hdr    int    // header length, mask key included
	n      uint64 // payload length as declared
}

// parseWSHeader parses the frame header at the start of b; ok is false while b does not hold
// all of it yet.
func parseWSHeader(b []byte) (h wsHeader, ok bool) {
	if len(b) < 2 {
		return h, false
	}
	h.fin, h.rsv, h.op = b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0F
	h.masked = b[1]&0x80 != 0
	h.hdr = 2
	switch l := b[1] & 0x7F; l {
	case 126:
		h.hdr += 2
		if len(b) < h.hdr {
			return h, false
		}
		h.n = uint64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		h.hdr += 8
		if len(b) < h.hdr {
			return h, false
		}
		h.n = binary.BigEndian.Uint64(b[2:10])
	default:
		h.n = uint64(l)
	}
	if h.masked {
		if len(b) < h.hdr+4 {
			return h, false
		}
		copy(h.key[:], b[h.hdr:h.hdr+4])
		h.hdr += 4
	}
	return h, true
}

// mine reports whether the tick reader may handle this frame itself: an unfragmented masked
// binary frame of at most maxFrame bytes with no RSV bits (no extension is negotiated where
// the tick reader runs), or a pong (a control frame: FIN, ≤ 125 bytes).
func (h *wsHeader) mine(maxFrame int) bool {
	if !h.fin || h.rsv != 0 || !h.masked {
		return false
	}
	switch h.op {
	case wsBinary:
		return h.n <= uint64(maxFrame)
	case wsPong:
		return h.n <= 125
	}
	return false
}

// maskWS XORs p with the frame's mask key (masking and unmasking are the same operation).
func maskWS(p []byte, key [4]byte) {
	for i := range p {
		p[i] ^= key[i&3]
	}
}

// frameTracker follows frame boundaries over the byte stream a connection's reader hands to
// gws, so the reader knows when gws stands between two frames (and, because gws's bufio
// only reads when it holds nothing, has consumed everything it was given). It keeps no
// payload, only the header bytes of a frame whose header is still incomplete.
type frameTracker struct {
	hdr  [14]byte
	hn   int    // header bytes collected
	left uint64 // payload bytes of the current frame still to come
	frag bool   // a fragmented message is open (a data frame without FIN came, no final one yet)
	bad  bool   // the stream is not a valid frame sequence as far as we can tell: never at a boundary again
}

// atBoundary reports whether everything fed so far ends exactly at a frame's end and no
// fragmented message is open.
func (t *frameTracker) atBoundary() bool {
	return t.hn == 0 && t.left == 0 && !t.frag && !t.bad
}

// feed accounts for bytes handed to gws.
func (t *frameTracker) feed(p []byte) {
	for len(p) > 0 && !t.bad {
		if t.left > 0 {
			k := uint64(len(p))
			if k > t.left {
				k = t.left
			}
			t.left -= k
			p = p[k:]
			continue
		}
		// Collect a header: at most 14 bytes, and only as many as it turns out to have.
		for len(p) > 0 {
			t.hdr[t.hn] = p[0]
			t.hn++
			p = p[1:]
			h, ok := parseWSHeader(t.hdr[:t.hn])
			if !ok {
				if t.hn == len(t.hdr) {
					t.bad = true // cannot happen: 14 bytes always hold a header
				}
				continue
			}
			t.hn, t.left = 0, h.n
			if h.op < wsClose { // a data frame (continuation, text, binary or reserved)
				t.frag = !h.fin
			}
			break
		}
	}
}
