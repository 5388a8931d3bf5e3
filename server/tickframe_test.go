package server

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/tickrelay/tickrelay/protocol"
)

// clientFrame is a masked client frame: first byte b0 (FIN/RSV/opcode), payload p.
func clientFrame(b0 byte, p []byte, key [4]byte) []byte {
	f := []byte{b0}
	switch n := len(p); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, key[:]...)
	start := len(f)
	f = append(f, p...)
	maskWS(f[start:], key)
	return f
}

func inputFrame(seq uint32, key [4]byte) []byte {
	return clientFrame(0x80|wsBinary, protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpInput, Seq: seq, Payload: []byte{0xc0}}), key)
}

// The frame walk takes complete binary frames and pongs, keeps an incomplete one, and stops
// (leaving the bytes exactly as they came) at anything else.
func TestScanFrames(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	in1, in2 := inputFrame(1, key), inputFrame(2, key)
	pong := clientFrame(0x80|wsPong, []byte("p"), key)
	text := clientFrame(0x80|wsText, []byte("hi"), key)
	frag := clientFrame(wsBinary, []byte{1}, key) // no FIN
	unmasked := []byte{0x82, 0x01, 0x00}
	big := clientFrame(0x80|wsBinary, make([]byte, 200), key)
	rsv := append([]byte{0xC2}, in1[1:]...)
	cases := []struct {
		name     string
		b        []byte
		maxFrame int
		room     int
		off      int
		back     bool
		visits   int
	}{
		{"two inputs", cat(in1, in2), 1000, 4096, len(in1) + len(in2), false, 2},
		{"input pong input", cat(in1, pong, in2), 1000, 4096, len(in1) + len(pong) + len(in2), false, 3},
		{"partial header kept", cat(in1, in2[:1]), 1000, 4096, len(in1), false, 1},
		{"partial payload kept", cat(in1, in2[:len(in2)-1]), 1000, 4096, len(in1), false, 1},
		{"partial longer than room", cat(in1, big[:20]), 1000, 100, len(in1), true, 1},
		{"text", cat(in1, text, in2), 1000, 4096, len(in1), true, 1},
		{"fragment", cat(frag, in1), 1000, 4096, 0, true, 0},
		{"unmasked", unmasked, 1000, 4096, 0, true, 0},
		{"rsv", rsv, 1000, 4096, 0, true, 0},
		{"over max frame", big, 100, 4096, 0, true, 0},
		{"over max frame, header only", big[:8], 100, 4096, 0, true, 0},
	}
	for _, c := range cases {
		orig := append([]byte(nil), c.b...)
		visits := 0
		off, back := scanFrames(c.b, c.maxFrame, c.room, func(h wsHeader, p []byte) bool { visits++; return true })
		if off != c.off || back != c.back || visits != c.visits {
			t.Errorf("%s: off %d back %v visits %d; want %d %v %d", c.name, off, back, visits, c.off, c.back, c.visits)
		}
		if !bytes.Equal(c.b[off:], orig[off:]) {
			t.Errorf("%s: the bytes not consumed changed", c.name)
		}
	}
	// A frame visit refuses is masked again: the hand-back gives gws the bytes as sent.
	b := cat(in1, in2)
	orig := append([]byte(nil), b...)
	off, back := scanFrames(b, 1000, 4096, func(h wsHeader, p []byte) bool {
		var m protocol.ClientMsg
		if err := protocol.DecodeClient(p, &m); err != nil {
			t.Fatalf("payload not unmasked: %v", err)
		}
		return m.Seq == 1
	})
	if off != len(in1) || !back || !bytes.Equal(b[off:], orig[off:]) {
		t.Fatalf("refusal: off %d back %v, rest changed %v", off, back, !bytes.Equal(b[off:], orig[off:]))
	}
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// The tracker finds the same boundaries however the stream is split.
func TestFrameTrackerBoundaries(t *testing.T) {
	key := [4]byte{9, 8, 7, 6}
	stream := cat(inputFrame(1, key), clientFrame(0x80|wsPing, nil, key), clientFrame(0x80|wsBinary, make([]byte, 300), key),
		clientFrame(0x80|wsBinary, make([]byte, 70000), key))
	var whole frameTracker
	whole.feed(stream)
	if !whole.atBoundary() {
		t.Fatal("whole stream: not at a boundary")
	}
	for split := 1; split < 400; split++ {
		var tr frameTracker
		tr.feed(stream[:split])
		tr.feed(stream[split:])
		if !tr.atBoundary() {
			t.Fatalf("split at %d: not at a boundary", split)
		}
	}
	var tr frameTracker
	for i := range stream[:len(stream)-1] {
		tr.feed(stream[i : i+1])
	}
	if tr.atBoundary() {
		t.Fatal("one byte short: at a boundary")
	}
	// An open fragmented message is not a boundary until its final frame.
	var fr frameTracker
	fr.feed(clientFrame(wsBinary, []byte{1}, key))
	fr.feed(clientFrame(0x80|wsPong, nil, key))
	if fr.atBoundary() {
		t.Fatal("inside a fragmented message: at a boundary")
	}
	fr.feed(clientFrame(0x80|wsContinuation, []byte{2}, key))
	if !fr.atBoundary() {
		t.Fatal("after the final fragment: not at a boundary")
	}
}

// FuzzTickFrames: the tick reader's frame walk over untrusted bytes never reads out of
// bounds, never changes a byte it does not consume, only consumes whole frames it may handle,
// and agrees with the tracker: what it consumed ends at a frame boundary.
func FuzzTickFrames(f *testing.F) {
	key := [4]byte{0x11, 0x22, 0x33, 0x44}
	f.Add(cat(inputFrame(1, key), inputFrame(2, key)), 1000, 4096, uint8(0))
	f.Add(cat(inputFrame(1, key), clientFrame(0x80|wsPong, []byte("x"), key), clientFrame(0x80|wsText, []byte("t"), key)), 1000, 4096, uint8(1))
	f.Add(clientFrame(0x80|wsBinary, make([]byte, 300), key)[:100], 200, 4096, uint8(2))
	f.Add([]byte{0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4}, 1000, 4096, uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, maxFrame, room int, refuse uint8) {
		if maxFrame < 0 || maxFrame > 1<<20 || room < 0 {
			return
		}
		orig := append([]byte(nil), b...)
		visits := 0
		off, back := scanFrames(b, maxFrame, room, func(h wsHeader, p []byte) bool {
			visits++
			if !h.mine(maxFrame) {
				t.Fatalf("visited a frame that is not the tick reader's: %+v", h)
			}
			return refuse == 0 || visits%int(refuse) != 0
		})
		if off < 0 || off > len(b) {
			t.Fatalf("offset %d of %d", off, len(b))
		}
		if !bytes.Equal(b[off:], orig[off:]) {
			t.Fatal("bytes not consumed were changed")
		}
		var tr frameTracker
		tr.feed(orig[:off])
		if !tr.atBoundary() {
			t.Fatal("the consumed bytes do not end at a frame boundary")
		}
		if !back && off < len(b) {
			// Kept as an incomplete frame: it must fit in room and really be incomplete.
			if h, ok := parseWSHeader(orig[off:]); ok && (!h.mine(maxFrame) || uint64(len(b)-off) >= uint64(h.hdr)+h.n || uint64(h.hdr)+h.n > uint64(room)) {
				t.Fatalf("kept %d bytes that are not an incomplete frame of ours within room: %+v", len(b)-off, h)
			}
		}
		// The tracker, fed in two pieces, agrees with itself fed at once.
		var a, c frameTracker
		a.feed(orig)
		mid := len(orig) / 2
		c.feed(orig[:mid])
		c.feed(orig[mid:])
		if a != c {
			t.Fatalf("tracker differs by split: %+v vs %+v", a, c)
		}
	})
}
