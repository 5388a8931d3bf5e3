package loadgen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// serverFrame is what a server sends: unmasked.
func serverFrame(fin bool, op byte, p []byte) []byte {
	b := []byte{op}
	if fin {
		b[0] |= 0x80
	}
	switch n := len(p); {
	case n < 126:
		b = append(b, byte(n))
	case n < 1<<16:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, p...)
}

func TestParseFrameSizesAndPrefixes(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		p := bytes.Repeat([]byte{byte(n)}, n)
		b := serverFrame(true, wsBinary, p)
		f, ok, err := parseFrame(b)
		if err != nil || !ok || f.size != len(b) || !bytes.Equal(f.payload, p) || !f.fin || f.op != wsBinary {
			t.Fatalf("n=%d: %v %v size %d", n, ok, err, f.size)
		}
		for _, cut := range []int{0, 1, 2, 3, 9, len(b) - 1} {
			if cut >= len(b) || cut < 0 {
				continue
			}
			if _, ok, err := parseFrame(b[:cut]); ok || err != nil {
				t.Fatalf("n=%d prefix %d: ok %v err %v", n, cut, ok, err)
			}
		}
		// two frames back to back: the first one's size only
		two := append(append([]byte(nil), b...), b...)
		if f, ok, _ := parseFrame(two); !ok || f.size != len(b) {
			t.Fatalf("n=%d: back to back size %d", n, f.size)
		}
	}
}

func TestParseFrameRefusals(t *testing.T) {
	cases := map[string]struct {
		b   []byte
		err error
	}{
		"masked":          {[]byte{0x82, 0x81, 1, 2, 3, 4, 5}, errFrameMasked},
		"reserved bits":   {[]byte{0xc2, 0x00}, errFrameReserved},
		"opcode 3":        {[]byte{0x83, 0x00}, errFrameOpcode},
		"fragmented ping": {[]byte{0x09, 0x00}, errFrameControl},
		"long close":      {append([]byte{0x88, 126, 0, 126}, make([]byte, 126)...), errFrameControl},
		"too large":       {[]byte{0x82, 127, 0, 0, 0, 0, 0, 0x20, 0, 0}, errFrameTooLarge},
	}
	for name, tc := range cases {
		if _, ok, err := parseFrame(tc.b); ok || !errors.Is(err, tc.err) {
			t.Errorf("%s: ok %v err %v, want %v", name, ok, err, tc.err)
		}
	}
}

func TestReassembler(t *testing.T) {
	var r reassembler
	parts := [][]byte{[]byte("ab"), []byte("cd"), []byte("e")}
	frames := []frame{{op: wsBinary, payload: parts[0]}, {op: wsContinuation, payload: parts[1]}, {fin: true, op: wsContinuation, payload: parts[2]}}
	for i, f := range frames {
		msg, err := r.add(f)
		if err != nil || (i < 2) != (msg == nil) {
			t.Fatalf("frame %d: %q %v", i, msg, err)
		}
		if i == 2 && string(msg) != "abcde" {
			t.Fatalf("assembled %q", msg)
		}
	}
	if msg, err := r.add(frame{fin: true, op: wsBinary, payload: []byte("x")}); err != nil || string(msg) != "x" {
		t.Fatalf("unfragmented after a fragmented one: %q %v", msg, err)
	}
	if _, err := r.add(frame{fin: true, op: wsContinuation}); !errors.Is(err, errFrameSequence) {
		t.Fatalf("continuation without a start: %v", err)
	}
	_, _ = r.add(frame{op: wsText, payload: []byte("a")})
	if _, err := r.add(frame{fin: true, op: wsBinary}); !errors.Is(err, errFrameSequence) {
		t.Fatalf("a new message inside one: %v", err)
	}
}

func TestAppendClientFrameIsMasked(t *testing.T) {
	for _, n := range []int{0, 16, 125, 126, 300, 70000} {
		p := bytes.Repeat([]byte{0x5a}, n)
		b := appendClientFrame(nil, wsBinary, p, 0x01020304)
		if b[0] != 0x82 || b[1]&0x80 == 0 {
			t.Fatalf("n=%d: header % x", n, b[:2])
		}
		hdr := 2
		switch b[1] & 0x7f {
		case 126:
			hdr = 4
		case 127:
			hdr = 10
		}
		if len(b) != hdr+4+n || !bytes.Equal(b[hdr:hdr+4], []byte{1, 2, 3, 4}) {
			t.Fatalf("n=%d: length %d", n, len(b))
		}
		got := append([]byte(nil), b[hdr+4:]...)
		maskBytes(got, 0x01020304)
		if !bytes.Equal(got, p) {
			t.Fatalf("n=%d: unmasked payload differs", n)
		}
	}
}

// FuzzParseFrame: any bytes from a server parse without a panic, and a parsed frame lies
// within them.
func FuzzParseFrame(f *testing.F) {
	f.Add(serverFrame(true, wsBinary, []byte{0x99, 34, 1, 2, 3}))
	f.Add(serverFrame(false, wsText, []byte("ab")))
	f.Add([]byte{0x82, 127, 0, 0, 0, 0, 0, 0, 1, 0})
	f.Add([]byte{0x89, 0x7e, 0, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r reassembler
		for len(b) > 0 {
			fr, ok, err := parseFrame(b)
			if err != nil || !ok {
				return
			}
			if fr.size > len(b) || len(fr.payload) > fr.size || len(fr.payload) > maxFrame {
				t.Fatalf("frame size %d payload %d of %d bytes", fr.size, len(fr.payload), len(b))
			}
			if fr.op < wsClose {
				if _, err := r.add(fr); err != nil {
					return
				}
			}
			b = b[fr.size:]
		}
	})
}
