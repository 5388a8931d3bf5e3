package protocol

import (
	"testing"
)

// Hot-path benchmarks. Run with
//
//	go test ./protocol -run '^$' -bench . -benchmem -count 5
//
// Targets: BenchmarkDecodeInput <= 250 ns/op, BenchmarkEncodeDelta10 <= 2 µs/op, both 0 allocs.

// appendArenaChanges appends the changes of an arena tick where every one of players moved:
// [nil, {pid: {0: f32 x, 1: f32 y}, ...}, nil].
func appendArenaChanges(b []byte, players int, tick uint32) []byte {
	b = AppendArrayHeader(b, 3)
	b = AppendNil(b)
	b = AppendMapHeader(b, players)
	for p := 1; p <= players; p++ {
		b = AppendUint(b, uint64(p))
		b = AppendMapHeader(b, 2)
		b = AppendUint(b, 0)
		b = AppendFloat32(b, float32(p)*37.5+float32(tick)*0.25)
		b = AppendUint(b, 1)
		b = AppendFloat32(b, float32(p)*11.25-float32(tick)*0.5)
	}
	return AppendNil(b)
}

// arenaShared appends the shared part of a DELTA: head, changes, nil events.
func arenaShared(b []byte, players int, tick uint32) []byte {
	b = AppendDeltaHead(b, 1, tick, 1)
	b = appendArenaChanges(b, players, tick)
	return AppendNil(b) // events
}

// arenaDelta appends a whole DELTA frame as one member receives it.
func arenaDelta(b []byte, players int, ack uint32, hasAck bool) []byte {
	b = arenaShared(b, players, 1000)
	return AppendDeltaTail(b, hasAck, ack, nil, nil)
}

// arenaInput is [4, seq, seen, [dx, dy]] with float64 dx, dy: the arena's 5-field input.
func arenaInput(seq, seen uint32, dx, dy float64) []byte {
	p := AppendFloat64(AppendFloat64(AppendArrayHeader(nil, 2), dx), dy)
	return AppendInput(nil, seq, seen, p)
}

func BenchmarkDecodeInput(b *testing.B) {
	frame := arenaInput(123456, 987654, 0.70710678, -0.70710678)
	var m ClientMsg
	var sum float64
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := DecodeClient(frame, &m); err != nil {
			b.Fatal(err)
		}
		// What the arena game does with the payload.
		r := NewReader(m.Payload)
		if n, err := r.ArrayLen(); err != nil || n != 2 {
			b.Fatal(n, err)
		}
		dx, err := r.Float()
		if err != nil {
			b.Fatal(err)
		}
		dy, err := r.Float()
		if err != nil {
			b.Fatal(err)
		}
		sum += dx + dy
	}
	if m.Seq != 123456 || sum > 1e-6*float64(b.N) {
		b.Fatal("wrong decode", m.Seq, sum)
	}
}

func BenchmarkEncodeDelta10(b *testing.B) {
	const players = 10
	shared := make([]byte, 0, 512)
	var tails [players][]byte
	for i := range tails {
		tails[i] = make([]byte, 0, 16)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		tick := 1000 + uint32(i%1000) // a minute or so into a 20 Hz match: 2-byte ticks
		i++
		shared = arenaShared(shared[:0], players, tick)
		for p := range tails {
			tails[p] = AppendDeltaTail(tails[p][:0], true, tick*3+uint32(p), nil, nil) // 2-byte seqs
		}
	}
	b.ReportMetric(float64(len(shared)+len(tails[0])), "bytes/frame")
	b.ReportMetric(float64(len(shared)), "shared-bytes")
	var m ServerMsg
	if err := DecodeServer(append(shared, tails[3]...), &m); err != nil || !m.HasAck {
		b.Fatal(err)
	}
}

func BenchmarkDecodeDelta(b *testing.B) {
	frame := arenaDelta(nil, 10, 4242, true)
	var m ServerMsg
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := DecodeServer(frame, &m); err != nil {
			b.Fatal(err)
		}
	}
	if m.Ack != 4242 || len(m.Changes) == 0 {
		b.Fatal("wrong decode")
	}
	b.ReportMetric(float64(len(frame)), "bytes/frame")
}

// BenchmarkRelayEnvelope encodes a RELAY with the 10-player delta's shared part and the tails of
// 5 members on other instances, and decodes it as the receiving instance does.
func BenchmarkRelayEnvelope(b *testing.B) {
	shared := arenaShared(nil, 10, 1000)
	tails := make([]byte, 0, 128)
	tail := make([]byte, 0, 16)
	buf := make([]byte, 0, 1024)
	msg := ServerMsg{Op: OpRelay, Match: "m-0123456789", Epoch: 3, Tick: 1000, Frame: shared}
	var out ServerMsg
	b.ReportAllocs()
	for b.Loop() {
		tails = AppendMapHeader(tails[:0], 5)
		for p := 6; p <= 10; p++ {
			tails = AppendUint(tails, uint64(p))
			tail = AppendDeltaTail(tail[:0], true, uint32(p)*100, nil, nil)
			tails = AppendBytes(tails, tail)
		}
		msg.Tails = tails
		buf = AppendServer(buf[:0], &msg)
		if err := DecodeServer(buf, &out); err != nil {
			b.Fatal(err)
		}
	}
	if out.Tick != 1000 || len(out.Frame) != len(shared) {
		b.Fatal("wrong decode")
	}
	b.ReportMetric(float64(len(buf)), "bytes/frame")
}
