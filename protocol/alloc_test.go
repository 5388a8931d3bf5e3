package protocol

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// Allocation bounds for untrusted bytes.
//
// The budget for decoding one frame is allocBudget(len): 64 bytes per frame byte plus 64 KiB.
// DecodeClient/DecodeServer allocate only the strings they return (capped) and, on refusal, one
// *DecodeError. Unmarshal validates first, so msgpack/v5 never sees a length the frame cannot
// back; what it then allocates is proportional to the frame, at these measured costs per frame
// byte when decoding into `any` (Go 1.26, amd64, 16 KiB frames, see TestUnmarshalWorstCases):
//
//	[nil, nil, ...]              c0 each           16x   (one interface slot)
//	["", ...] / ["a", ...]       a0 / a1 61        16x
//	[bin0, ...]                  c4 00             20x
//	[[], [], ...]                90 each           40x   (slot + boxed slice header)
//	[[[]], ...]                  91 90             40x
//	[{}, {}, ...]                80 each           64x   (slot + map header): exactly the budget
//	[{"": nil}, ...]             81 a0 c0         117x
//	[{"": {}}, ...]              81 a0 80         133x
//	{"": {"": {"": ...}}} x15    81 a0 chains     ~162x  (the worst found)
//
// So the 64x budget holds for everything except non-empty string-keyed maps: every map that
// has an entry costs a fixed ~336 bytes (map header + one 8-slot group of string/any pairs)
// however few bytes encode it, and a 2-byte `81 a0` can nest another. The tests below therefore
// assert allocBudget(len) + mapCost per non-empty map in the frame, and the plain 64x budget
// for frames without non-empty maps. A 16 KiB frame of nested tiny maps costs ~2.7 MB.
const (
	allocPerByte  = 64
	allocSlack    = 64 << 10
	mapCost       = 352 // measured ~336 (48 header + 288 group); rounded up with its 16-byte slot
	maxFrameBytes = 16 << 10
)

func allocBudget(n int) uint64 { return allocPerByte*uint64(n) + allocSlack }

// bytesAllocated returns the bytes one call of f allocates: the smallest TotalAlloc delta over
// a few calls after a warm-up. TotalAlloc only grows (a GC does not lower it), and the minimum
// drops what the rest of the runtime allocated meanwhile.
func bytesAllocated(f func()) uint64 {
	f() // warm up sync.Pools and lazily built tables
	best := uint64(math.MaxUint64)
	var a, b runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		best = min(best, b.TotalAlloc-a.TotalAlloc)
	}
	return best
}

// countMaps returns the number of non-empty maps in a frame that Validate accepts (0 if not).
func countMaps(b []byte) int {
	if Validate(b) != nil {
		return 0
	}
	r := NewReader(b)
	n := 0
	var walk func()
	walk = func() {
		c, _ := r.Peek()
		switch {
		case c&0xf0 == 0x80 || c == 0xde || c == 0xdf:
			k, _ := r.MapLen()
			if k > 0 {
				n++
			}
			for i := 0; i < 2*k; i++ {
				walk()
			}
		case c&0xf0 == 0x90 || c == 0xdc || c == 0xdd:
			k, _ := r.ArrayLen()
			for i := 0; i < k; i++ {
				walk()
			}
		default:
			_ = r.Skip(1)
		}
	}
	walk()
	return n
}

// unmarshalBudget is what Unmarshal(b, &any) may allocate (see the comment at the top).
func unmarshalBudget(b []byte) uint64 {
	return allocBudget(len(b)) + mapCost*uint64(countMaps(b))
}

type allocResult struct{ client, server, unmarshal uint64 }

func measureDecoders(b []byte) allocResult {
	var cm ClientMsg
	var sm ServerMsg
	var v any
	return allocResult{
		client:    bytesAllocated(func() { _ = DecodeClient(b, &cm) }),
		server:    bytesAllocated(func() { _ = DecodeServer(b, &sm) }),
		unmarshal: bytesAllocated(func() { v = nil; _ = Unmarshal(b, &v) }),
	}
}

func checkAllocBounds(t *testing.T, name string, b []byte) allocResult {
	t.Helper()
	got := measureDecoders(b)
	if got.client > allocBudget(len(b)) {
		t.Errorf("%s (%d bytes): DecodeClient allocated %d bytes, budget %d", name, len(b), got.client, allocBudget(len(b)))
	}
	if got.server > allocBudget(len(b)) {
		t.Errorf("%s (%d bytes): DecodeServer allocated %d bytes, budget %d", name, len(b), got.server, allocBudget(len(b)))
	}
	if got.unmarshal > unmarshalBudget(b) {
		t.Errorf("%s (%d bytes, %d maps): Unmarshal allocated %d bytes, budget %d",
			name, len(b), countMaps(b), got.unmarshal, unmarshalBudget(b))
	}
	return got
}

func TestUnmarshalBoundsAllocation(t *testing.T) {
	// The classic: 5 bytes declaring an array of 16M elements. msgpack/v5.4.1 alone would
	// make([]any, 0, 1<<24), 256 MiB; Unmarshal refuses it before the library sees it, for the
	// price of one small error.
	classic := h("dd 01 00 00 00")
	var v any
	if err := Unmarshal(classic, &v); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Unmarshal(dd 01000000) = %v, want ErrMalformed", err)
	}
	if n := bytesAllocated(func() { _ = Unmarshal(classic, &v) }); n > 256 {
		t.Errorf("refusing dd 01000000 allocated %d bytes", n)
	}
	// What the library does with such a header on its own, at 1/256 of the size (64K elements
	// claimed in 5 bytes): logged, not asserted, as it is the library's behaviour, not ours.
	small := h("dd 00 01 00 00")
	raw := bytesAllocated(func() { _ = msgpack.Unmarshal(small, &v) })
	t.Logf("msgpack/v5 alone: %x allocates %d bytes (%dx its size); protocol.Unmarshal refuses it", small, raw, raw/uint64(len(small)))

	// Hostile headers, alone and nested in messages of both directions.
	for _, hh := range hostileHeaders {
		for _, b := range [][]byte{
			hh.hdr,
			cat(h("94 04 01 01"), hh.hdr),
			cat(h("99 22 01 01 01"), hh.hdr, h("c0 c0 c0 c0")),
			cat(bytes.Repeat([]byte{0x91}, 10), hh.hdr),
			cat(h("dc 3000"), bytes.Repeat([]byte{0xc0}, 100), hh.hdr, bytes.Repeat([]byte{0xc0}, 1000)),
		} {
			if err := Unmarshal(b, &v); err == nil {
				t.Errorf("%s: Unmarshal(%x) accepted", hh.name, trunc(b))
			}
			checkAllocBounds(t, hh.name, b)
		}
	}

	// Golden vectors, whole and cut.
	for _, gv := range goldenFrames(t) {
		b := goldenBytes(t, gv)
		checkAllocBounds(t, gv.Name, b)
		checkAllocBounds(t, gv.Name+" cut", b[:len(b)/2])
	}

	// Random values up to 16 KiB (valid msgpack), as payloads and bare.
	rng := rand.New(rand.NewPCG(1, 2))
	worst, worstName := 0.0, ""
	for i := 0; i < 60; i++ {
		size := 1 + rng.IntN(maxFrameBytes-16)
		val := randValue(rng, nil, size, 1)
		for _, b := range [][]byte{val, cat(h("94 04 01 01"), val), cat(h("99 22 01 01 01"), val, h("c0 c0 c0 c0"))} {
			got := checkAllocBounds(t, "random value", b)
			if countMaps(b) == 0 {
				if r := float64(got.unmarshal) / float64(len(b)); r > worst && len(b) > 4096 {
					worst, worstName = r, "random value"
				}
			}
		}
	}
	// Random bytes, and golden vectors with random bytes flipped.
	goldens := goldenFrames(t)
	for i := 0; i < 100; i++ {
		b := make([]byte, 1+rng.IntN(maxFrameBytes))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		checkAllocBounds(t, "random bytes", b)
		g := bytes.Clone(goldenBytes(t, goldens[rng.IntN(len(goldens))]))
		for k := 0; k < 3; k++ {
			g[rng.IntN(len(g))] = byte(rng.Uint32())
		}
		checkAllocBounds(t, "mutated golden", g)
	}
	t.Logf("worst Unmarshal ratio over random map-free values > 4 KiB: %.1fx (%s)", worst, worstName)
}

// TestUnmarshalWorstCases builds 16 KiB frames of the cheapest-to-encode, costliest-to-decode
// values and checks each against the budget, logging the ratio (the table at the top of this
// file comes from here: go test ./protocol -run TestUnmarshalWorstCases -v).
func TestUnmarshalWorstCases(t *testing.T) {
	chain := cat(bytes.Repeat(h("81 a0"), MaxDepth-2), h("80")) // 14 nested one-entry maps in an array
	cases := []struct {
		name  string
		elem  []byte
		noMap bool // must fit the plain 64x budget
	}{
		{"nil", h("c0"), true},
		{"empty str", h("a0"), true},
		{"1-byte str", h("a1 61"), true},
		{"empty bin", h("c4 00"), true},
		{"int16", h("d1 1234"), true},
		{"float32", h("ca 3fc00000"), true},
		{"timestamp32", h("d6 ff 00000000"), true},
		{"empty array", h("90"), true},
		{"array of empty array", h("91 90"), true},
		{"array of nil", h("91 c0"), true},
		{"15-deep arrays", cat(bytes.Repeat([]byte{0x91}, MaxDepth-2), h("90")), true},
		{"empty map", h("80"), true},
		{"map {\"\": nil}", h("81 a0 c0"), false},
		{"map {\"\": {}}", h("81 a0 80"), false},
		{"map {\"\": nil, \"a\": nil}", h("82 a0 c0 a1 61 c0"), false},
		{"map {\"\": []}", h("81 a0 90"), false},
		{"map with bin key", h("81 c4 00 c0"), false},
		{"map with int key (refused by the library)", h("81 00 c0"), false},
		{"nested one-entry maps", chain, false},
	}
	worst, worstName := 0.0, ""
	for _, c := range cases {
		n := (maxFrameBytes - 3) / len(c.elem)
		b := cat([]byte{0xdc, byte(n >> 8), byte(n)}, bytes.Repeat(c.elem, n))
		if err := Validate(b); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := checkAllocBounds(t, c.name, b)
		ratio := float64(got.unmarshal) / float64(len(b))
		t.Logf("%-44s %5d bytes -> Unmarshal(any) %8d bytes: %6.1fx", c.name, len(b), got.unmarshal, ratio)
		if c.noMap && got.unmarshal > allocBudget(len(b)) {
			t.Errorf("%s: %d bytes, over the plain 64x budget %d", c.name, got.unmarshal, allocBudget(len(b)))
		}
		if ratio > worst {
			worst, worstName = ratio, c.name
		}
	}
	// A single map with as many distinct keys as fit: the library sizes it from the header.
	var keys []byte
	nk := 0
	for k := 0; len(keys) < maxFrameBytes-16; k++ {
		keys = AppendString(keys, string(rune('a'+k%26))+string(rune('a'+k/26%26))+string(rune('a'+k/676%26)))
		keys = append(keys, 0xc0)
		nk++
	}
	bigMap := cat(AppendMapHeader(nil, nk), keys)
	got := checkAllocBounds(t, "one big map", bigMap)
	t.Logf("%-44s %5d bytes -> Unmarshal(any) %8d bytes: %6.1fx", "one map of 3-byte keys", len(bigMap), got.unmarshal, float64(got.unmarshal)/float64(len(bigMap)))
	// The same key repeated: the map is sized for n entries but holds one.
	dupMap := cat(AppendMapHeader(nil, (maxFrameBytes-3)/2), bytes.Repeat(h("a0 c0"), (maxFrameBytes-3)/2))
	got = checkAllocBounds(t, "one map, one key repeated", dupMap)
	t.Logf("%-44s %5d bytes -> Unmarshal(any) %8d bytes: %6.1fx", "one map, one key repeated", len(dupMap), got.unmarshal, float64(got.unmarshal)/float64(len(dupMap)))
	t.Logf("worst: %s, %.1fx", worstName, worst)
}

// randValue appends a random valid msgpack value of about size bytes at nesting level depth.
func randValue(rng *rand.Rand, b []byte, size, depth int) []byte {
	if size <= 1 || depth >= MaxDepth {
		switch rng.IntN(4) {
		case 0:
			return append(b, 0xc0)
		case 1:
			return append(b, byte(rng.IntN(128)))
		case 2:
			return AppendBool(b, rng.IntN(2) == 0)
		default:
			return append(b, 0xe0|byte(rng.IntN(32)))
		}
	}
	switch rng.IntN(12) {
	case 0:
		return AppendInt(b, int64(rng.Uint64()))
	case 1:
		return AppendUint(b, rng.Uint64()>>rng.IntN(64))
	case 2:
		return AppendFloat32(b, float32(rng.NormFloat64()*1000))
	case 3:
		return AppendFloat64(b, rng.NormFloat64())
	case 4:
		n := rng.IntN(min(size, 300))
		s := make([]byte, n)
		for i := range s {
			s[i] = 'a' + byte(rng.IntN(26))
		}
		return AppendString(b, string(s))
	case 5:
		p := make([]byte, rng.IntN(min(size, 300)))
		return AppendBytes(b, p)
	case 6:
		return append(b, 0xd6, 0xff, 1, 2, 3, 4)
	case 7, 8, 9:
		n := 1 + rng.IntN(min(size, 40))
		b = AppendArrayHeader(b, n)
		for i := 0; i < n; i++ {
			b = randValue(rng, b, size/n-1, depth+1)
		}
		return b
	default:
		n := 1 + rng.IntN(min(size/2, 20)+1)
		b = AppendMapHeader(b, n)
		for i := 0; i < n; i++ {
			if rng.IntN(4) == 0 {
				b = AppendUint(b, uint64(i)) // int keys: the library refuses them into any
			} else {
				b = AppendString(b, string(rune('a'+i%26))+string(rune('a'+rng.IntN(26))))
			}
			b = randValue(rng, b, size/n-2, depth+1)
		}
		return b
	}
}

// Decoding an INPUT, a MESSAGE or a PING into a reused ClientMsg does not allocate, in any
// order (the MESSAGE's recipients reuse To's backing array), and neither does decoding a DELTA
// into a reused ServerMsg.
func TestDecodeHotPathsDoNotAllocate(t *testing.T) {
	input := AppendInput(nil, 1234, 5678, AppendFloat64(AppendFloat64(AppendArrayHeader(nil, 2), 0.5), -0.25))
	message := AppendClient(nil, &ClientMsg{Op: OpMessage, To: []uint32{2, 3, 4}, Echo: true, Payload: h("81 a4 74657874 a2 6869")})
	messageAll := AppendClient(nil, &ClientMsg{Op: OpMessage, ToAll: true, Payload: h("a5 68656c6c6f")})
	ping := AppendClient(nil, &ClientMsg{Op: OpPing, T: AppendFloat64(nil, 1234.5)})
	var m ClientMsg
	for _, b := range [][]byte{input, message, messageAll, ping} {
		if err := DecodeClient(b, &m); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(1000, func() {
		for _, b := range [][]byte{input, message, ping, input, messageAll, message, input} {
			if err := DecodeClient(b, &m); err != nil {
				panic(err)
			}
		}
	}); n != 0 {
		t.Errorf("DecodeClient of INPUT/MESSAGE/PING into a reused ClientMsg: %v allocs, want 0", n)
	}
	if err := DecodeClient(message, &m); err != nil || len(m.To) != 3 || m.To[2] != 4 || !m.Echo {
		t.Errorf("MESSAGE after reuse: %+v, %v", m, err)
	}
	var f float64
	if n := testing.AllocsPerRun(1000, func() {
		_ = DecodeClient(input, &m)
		r := NewReader(m.Payload)
		if _, err := r.ArrayLen(); err != nil {
			panic(err)
		}
		dx, _ := r.Float()
		dy, _ := r.Float()
		f += dx + dy
	}); n != 0 {
		t.Errorf("INPUT + payload floats: %v allocs, want 0", n)
	}

	delta := arenaDelta(nil, 10, 77, true)
	var sm ServerMsg
	if n := testing.AllocsPerRun(1000, func() {
		if err := DecodeServer(delta, &sm); err != nil {
			panic(err)
		}
	}); n != 0 {
		t.Errorf("DecodeServer of a DELTA: %v allocs, want 0", n)
	}
}
