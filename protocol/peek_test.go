package protocol

import (
	"testing"
)

func TestPeekRef(t *testing.T) {
	for _, c := range []struct {
		name  string
		frame []byte
		op    Op
		ref   uint32
	}{
		{"a str frame is no op", []byte("\xa5hello"), 0, 0},
		{"a bin frame", []byte{0xc4, 0x02, 0x04, 0x01}, 0, 0},
		{"empty", nil, 0, 0},
		{"empty array", []byte{0x90}, 0, 0},
		{"JOIN with too few elements keeps its req", []byte{0x92, 0x02, 0x07}, OpJoin, 7},
		{"INPUT names its seq", []byte{0x92, 0x04, 0xcd, 0x01, 0x00}, OpInput, 256},
		{"MESSAGE has no req", []byte{0x92, 0x05, 0x07}, OpMessage, 0},
		{"array16 header", []byte{0xdc, 0x00, 0x02, 0x08, 0x03}, OpSync, 3},
		{"op above a byte", []byte{0x91, 0xcd, 0x01, 0x02}, 0, 0},
		{"a str req", []byte{0x92, 0x02, 0xa1, 'x'}, OpJoin, 0},
		{"truncated", []byte{0x93, 0x02}, OpJoin, 0},
	} {
		op, ref := PeekRef(c.frame)
		if op != c.op || ref != c.ref {
			t.Errorf("%s: PeekRef(%x) = %d, %d; want %d, %d", c.name, c.frame, op, ref, c.op, c.ref)
		}
	}
}

// FuzzPeekRef: any bytes, no panic, at most the reader's error allocated, and on a frame that decodes, the same
// op and reference the full decoder finds.
func FuzzPeekRef(f *testing.F) {
	f.Add([]byte("\xa5hello"))
	f.Add([]byte{0x92, 0x02, 0x07})
	f.Add(AppendClient(nil, &ClientMsg{Op: OpInput, Seq: 9, Seen: 3, Payload: []byte{0x90}}))
	f.Add(AppendClient(nil, &ClientMsg{Op: OpSync, Req: 4, Epoch: 1, Tick: 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var op Op
		var ref uint32
		if n := testing.AllocsPerRun(1, func() { op, ref = PeekRef(b) }); n > 2 {
			t.Fatalf("PeekRef allocated %v times", n)
		}
		var m ClientMsg
		if DecodeClient(b, &m) != nil {
			return
		}
		want := m.Req
		if m.Op == OpInput {
			want = m.Seq
		}
		if !refersByReq(m.Op) {
			want = 0
		}
		if op != m.Op || ref != want {
			t.Fatalf("PeekRef = %d, %d; DecodeClient says op %d ref %d", op, ref, m.Op, want)
		}
	})
}

func TestErrorTextsAreOneLine(t *testing.T) {
	var m ServerMsg
	if err := DecodeServer(ErrorFrame(ErrCodeForbidden, "forbidden\nthe ticket is for another match\r\n", OpJoin, 1), &m); err != nil {
		t.Fatal(err)
	}
	if m.Message != "forbidden: the ticket is for another match" {
		t.Fatalf("message %q", m.Message)
	}
}
