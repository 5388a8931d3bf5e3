package cluster

import (
	"bytes"
	"testing"
)

func TestWireRoundTrip(t *testing.T) {
	in := wmsg{Kind: kMessage, Seq: 7, RPC: 9, Node: "b", Match: "m-1", Sink: 1 << 40, PID: 3, A: 4, B: 5, C: 6, Code: 7,
		Str: "ann", Str2: "Ann", Bin: []byte{0x92, 1, 2}, To: []uint32{1, 2}, Flag: true}
	var out wmsg
	must(t, decodeWmsg(appendWmsg(nil, &in), &out))
	if out.Kind != in.Kind || out.Seq != in.Seq || out.RPC != in.RPC || out.Node != in.Node || out.Match != in.Match ||
		out.Sink != in.Sink || out.PID != in.PID || out.A != in.A || out.B != in.B || out.C != in.C || out.Code != in.Code ||
		out.Str != in.Str || out.Str2 != in.Str2 || !bytes.Equal(out.Bin, in.Bin) || len(out.To) != 2 || !out.Flag {
		t.Fatalf("got %+v", out)
	}
	tails := []wireTail{{"a", 1, []byte{0xc0, 0xc0, 0xc0}}, {"b", 2, []byte{1, 0xc0, 0xc0}}}
	var tm tickMsg
	must(t, decodeTick(appendTick(nil, 11, []byte{0x99, 39, 1, 2, 1}, tails), &tm))
	if tm.Seq != 11 || len(tm.Tails) != 2 || tm.Tails[1].Node != "b" || tm.Tails[1].Sink != 2 || !bytes.Equal(tm.Tails[1].Tail, tails[1].Tail) {
		t.Fatalf("tick %+v", tm)
	}
}

// FuzzRelayMessage: relay messages come from the network (Redis); decoding never panics and
// never allocates beyond the message's own size.
func FuzzRelayMessage(f *testing.F) {
	f.Add(appendWmsg(nil, &wmsg{Kind: kJoin, Node: "b", Match: "m", Str: "u", Bin: []byte{0xc0}, To: []uint32{1}}))
	f.Add(appendTick(nil, 3, []byte{0x99, 39, 1, 2, 1, 0xc0, 0xc0}, []wireTail{{"a", 1, []byte{0xc0, 0xc0, 0xc0}}}))
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := peekKind(b); err == nil && k == kTick {
			var tm tickMsg
			if decodeTick(b, &tm) == nil && len(tm.Tails) > len(b) {
				t.Fatalf("%d tails from %d bytes", len(tm.Tails), len(b))
			}
			return
		}
		var m wmsg
		if decodeWmsg(b, &m) == nil && len(m.To) > len(b) {
			t.Fatalf("%d recipients from %d bytes", len(m.To), len(b))
		}
		deltaHead(b)
	})
}
