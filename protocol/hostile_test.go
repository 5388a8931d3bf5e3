package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// This file feeds DecodeClient, DecodeServer, Validate and Unmarshal hostile bytes and checks
// that each one is refused with the right sentinel error, quickly, and without a panic.

// h decodes hex written with optional spaces (test constants only).
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(fmt.Sprintf("bad hex %q: %v", s, err))
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var sentinels = []error{ErrTruncated, ErrMalformed, ErrType, ErrTooDeep, ErrTrailing, ErrUnknownOp, ErrInvalid}

// sentinelOf returns the sentinel err wraps, or nil.
func sentinelOf(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}

// Each decoder is called through one of these so that a panic becomes a test failure naming
// the input instead of killing the run.
func safeCall(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("PANIC: %v", p)
		}
	}()
	return f()
}

func decClient(b []byte) (ClientMsg, error) {
	var m ClientMsg
	err := safeCall(func() error { return DecodeClient(b, &m) })
	return m, err
}

func decServer(b []byte) (ServerMsg, error) {
	var m ServerMsg
	err := safeCall(func() error { return DecodeServer(b, &m) })
	return m, err
}

func validate(b []byte) error { return safeCall(func() error { return Validate(b) }) }

func unmarshalAny(b []byte) error {
	var v any
	return safeCall(func() error { return Unmarshal(b, &v) })
}

// hostileCase is one frame and the sentinel each entry point must return (nil: accepted).
// v is checked for both Validate and Unmarshal(b, &any).
type hostileCase struct {
	name    string
	b       []byte
	c, s, v error
}

func wantErr(t *testing.T, who, name string, b []byte, got, want error) {
	t.Helper()
	if strings.HasPrefix(fmt.Sprint(got), "PANIC") {
		t.Errorf("%s(%s = %x): %v", who, name, trunc(b), got)
		return
	}
	switch {
	case want == nil && got != nil:
		t.Errorf("%s(%s = %x): refused valid input: %v", who, name, trunc(b), got)
	case want != nil && !errors.Is(got, want):
		t.Errorf("%s(%s = %x) = %v, want %v", who, name, trunc(b), got, want)
	}
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func runHostile(t *testing.T, cases []hostileCase) {
	t.Helper()
	for _, c := range cases {
		_, err := decClient(c.b)
		wantErr(t, "DecodeClient", c.name, c.b, err, c.c)
		_, err = decServer(c.b)
		wantErr(t, "DecodeServer", c.name, c.b, err, c.s)
		wantErr(t, "Validate", c.name, c.b, validate(c.b), c.v)
		if c.v != nil { // accepted values may still not fit `any` (e.g. int map keys): see TestUnmarshalAcceptsValid
			wantErr(t, "Unmarshal", c.name, c.b, unmarshalAny(c.b), c.v)
		}
	}
}

// hostileHeaders are 2–6 byte headers that claim far more content than any frame holds. The
// fuzz targets and the allocation test use them as seeds too.
var hostileHeaders = []struct {
	name string
	hdr  []byte
	err  error // what Validate says of the header alone (and of any value holding it)
}{
	{"array32 2^32-1", h("dd ffffffff"), ErrMalformed},
	{"array32 2^31", h("dd 80000000"), ErrMalformed},
	{"array32 16M (the classic)", h("dd 01000000"), ErrMalformed},
	{"array16 65535", h("dc ffff"), ErrMalformed},
	{"map32 2^32-1", h("df ffffffff"), ErrMalformed},
	{"map32 2^31", h("df 80000000"), ErrMalformed},
	{"map16 65535", h("de ffff"), ErrMalformed},
	{"str32 2^32-1", h("db ffffffff"), ErrMalformed},
	{"str32 2^31", h("db 80000000"), ErrMalformed},
	{"str16 65535", h("da ffff"), ErrMalformed},
	{"str8 255", h("d9 ff"), ErrMalformed},
	{"bin32 2^32-1", h("c6 ffffffff"), ErrMalformed},
	{"bin32 2^31", h("c6 80000000"), ErrMalformed},
	{"bin16 65535", h("c5 ffff"), ErrMalformed},
	{"bin8 255", h("c4 ff"), ErrMalformed},
	{"ext32 2^32-1 type -1", h("c9 ffffffff ff"), ErrInvalid},
	{"ext32 2^31 type -1", h("c9 80000000 ff"), ErrInvalid},
	{"ext16 65535 type -1", h("c8 ffff ff"), ErrInvalid},
	{"ext8 255 type -1", h("c7 ff ff"), ErrMalformed},
}

func isArrayHeader(c byte) bool { return c&0xf0 == 0x90 || c == 0xdc || c == 0xdd }

func TestHostileHeaders(t *testing.T) {
	var cases []hostileCase
	for _, hh := range hostileHeaders {
		top := ErrType // the message must be an array
		if isArrayHeader(hh.hdr[0]) {
			top = hh.err
		}
		cases = append(cases,
			hostileCase{"top-level " + hh.name, hh.hdr, top, top, hh.err},
			// Nested in an INPUT payload: [4, 1, 1, <header>].
			hostileCase{"input payload " + hh.name, cat(h("94 04 01 01"), hh.hdr), hh.err, ErrUnknownOp, hh.err},
			// Nested in a MESSAGE payload, with bytes after it.
			hostileCase{"message payload " + hh.name, cat(h("94 05 c0 c2"), hh.hdr, h("c0 c0 c0")), hh.err, ErrUnknownOp, hh.err},
			// Nested in the changes of a DELTA, followed by the rest of a frame.
			hostileCase{"delta changes " + hh.name, cat(h("99 22 01 01 01"), hh.hdr, h("c0 c0 c0 c0")), ErrUnknownOp, hh.err, hh.err},
			// Nested two levels down inside a JOIN meta: [2, 1, "", nil, [[<header>]]].
			hostileCase{"join meta nested " + hh.name, cat(h("95 02 01 a0 c0 91 91"), hh.hdr), hh.err, ErrUnknownOp, hh.err},
			// As an extra (forward-compatible) element of an INPUT.
			hostileCase{"extra element " + hh.name, cat(h("95 04 01 01 c0"), hh.hdr), hh.err, ErrUnknownOp, hh.err},
		)
	}
	// The message array itself claiming 2^32-1 elements, with a plausible INPUT after it.
	cases = append(cases, hostileCase{"message array32", h("dd ffffffff 04 01 01 c0"), ErrMalformed, ErrMalformed, ErrMalformed})
	runHostile(t, cases)

	// Refusing a header costs at most the one *DecodeError, whatever it claims.
	var cm ClientMsg
	var sm ServerMsg
	var v any
	for _, c := range cases {
		n := testing.AllocsPerRun(20, func() {
			_ = DecodeClient(c.b, &cm)
			_ = DecodeServer(c.b, &sm)
			_ = Validate(c.b)
			_ = Unmarshal(c.b, &v)
		})
		if n > 4 {
			t.Errorf("%s: refusing it allocated %v times (want <= 4: one DecodeError per call)", c.name, n)
		}
	}
}

func TestDeepNesting(t *testing.T) {
	deep := cat(h("94 04 01 01"), bytes.Repeat([]byte{0x91}, 10000))
	runHostile(t, []hostileCase{
		{"input payload 10000 x 0x91", deep, ErrTooDeep, ErrUnknownOp, ErrTooDeep},
		{"top-level 16 KiB of 0x91", bytes.Repeat([]byte{0x91}, 16<<10), ErrType, ErrType, ErrTooDeep},
		{"top-level 8K nested maps", bytes.Repeat(h("81 a0"), 8<<10), ErrType, ErrType, ErrTooDeep},
		{"delta events 10000 x 0x91", cat(h("99 22 01 01 01 c0"), bytes.Repeat([]byte{0x91}, 10000)), ErrUnknownOp, ErrTooDeep, ErrTooDeep},
		{"nested map values in payload", cat(h("94 04 01 01"), bytes.Repeat(h("81 00"), 5000), h("c0")), ErrTooDeep, ErrUnknownOp, ErrTooDeep},
		{"nested map keys in payload", cat(h("94 04 01 01"), bytes.Repeat(h("81"), 10000), h("c0")), ErrTooDeep, ErrUnknownOp, ErrTooDeep},
	})

	// "Fast": the decoder gives up at the depth limit, having read MaxDepth+few bytes of the
	// 10,000, and allocates only the error.
	var m ClientMsg
	err := DecodeClient(deep, &m)
	var de *DecodeError
	if !errors.As(err, &de) || de.Offset > 4+MaxDepth {
		t.Errorf("deep payload: %v; want a DecodeError within the first %d bytes", err, 4+MaxDepth)
	}
	if n := testing.AllocsPerRun(100, func() { _ = DecodeClient(deep, &m) }); n > 1 {
		t.Errorf("deep payload: %v allocs per refusal, want <= 1", n)
	}
	start := time.Now()
	for i := 0; i < 1000; i++ {
		_ = DecodeClient(deep, &m)
	}
	if d := time.Since(start); d > time.Second { // ~1 µs each; a walk of 10,000 levels would show
		t.Errorf("1000 refusals of a 10,000-deep payload took %v", d)
	}
}

// The depth limit is the spec's: "nesting deeper than 16 levels (the message array is level 1)".
// DecodeClient/DecodeServer and Validate of the whole frame must agree on every depth.
func TestDepthLimitAgrees(t *testing.T) {
	for k := 1; k <= MaxDepth+2; k++ { // k = nesting of the payload itself
		payload := cat(bytes.Repeat([]byte{0x91}, k-1), []byte{0x90})
		frames := []struct {
			name   string
			b      []byte
			client bool
		}{
			{"input payload", cat(h("94 04 01 01"), payload), true},
			{"input extra element", cat(h("95 04 01 01 c0"), payload), true},
			{"join meta", cat(h("95 02 01 a0 c0"), payload), true},
			{"delta events", cat(h("99 22 01 01 01 c0"), payload, h("c0 c0 c0")), false},
			{"end result", cat(h("95 26 01 01 01"), payload), false},
		}
		for _, f := range frames {
			var err error
			if f.client {
				_, err = decClient(f.b)
			} else {
				_, err = decServer(f.b)
			}
			verr := validate(f.b)
			wantOK := k+1 <= MaxDepth
			if (err == nil) != wantOK || (verr == nil) != wantOK {
				t.Errorf("%s nested %d (+1 for the message): decode %v, Validate %v; want accepted=%v",
					f.name, k, err, verr, wantOK)
			}
			if !wantOK && (!errors.Is(err, ErrTooDeep) || !errors.Is(verr, ErrTooDeep)) {
				t.Errorf("%s nested %d: decode %v, Validate %v; want ErrTooDeep", f.name, k, err, verr)
			}
		}
	}
}

// goldenFrames reads testdata/golden.json (the fuzz targets use it for seeds too).
func goldenFrames(t testing.TB) []goldenVector {
	t.Helper()
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Vectors) == 0 {
		t.Fatal("no golden vectors")
	}
	return g.Vectors
}

func goldenBytes(t testing.TB, v goldenVector) []byte {
	t.Helper()
	b, err := hex.DecodeString(v.Hex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeDir decodes b with the decoder for dir ("c2s" or "s2c") and returns the message.
func decodeDir(dir string, b []byte) (any, error) {
	if dir == "c2s" {
		m, err := decClient(b)
		return m, err
	}
	m, err := decServer(b)
	return m, err
}

func TestTruncatedGolden(t *testing.T) {
	for _, v := range goldenFrames(t) {
		full := goldenBytes(t, v)
		for i := 0; i < len(full); i++ {
			b := bytes.Clone(full[:i])[:i:i] // exact capacity: a read past the end would panic
			_, err := decodeDir(v.Dir, b)
			verr := validate(b)
			uerr := unmarshalAny(b)
			for who, e := range map[string]error{"decode": err, "Validate": verr, "Unmarshal": uerr} {
				if !errors.Is(e, ErrTruncated) && !errors.Is(e, ErrMalformed) {
					t.Errorf("%s cut at %d/%d (%x): %s = %v, want ErrTruncated or ErrMalformed",
						v.Name, i, len(full), b, who, e)
				}
			}
			// The other decoder must not panic either.
			other := "s2c"
			if v.Dir == "s2c" {
				other = "c2s"
			}
			if _, err := decodeDir(other, b); err == nil || sentinelOf(err) == nil {
				t.Errorf("%s cut at %d (other side): %v", v.Name, i, err)
			}
		}
	}
}

func TestTrailingGolden(t *testing.T) {
	for _, v := range goldenFrames(t) {
		full := goldenBytes(t, v)
		for _, extra := range [][]byte{{0x00}, {0xc0}, {0xc1}, h("dd ffffffff"), full} {
			b := cat(full, extra)
			_, err := decodeDir(v.Dir, b)
			wantErr(t, "decode", v.Name+"+trailing", b, err, ErrTrailing)
			wantErr(t, "Validate", v.Name+"+trailing", b, validate(b), ErrTrailing)
			wantErr(t, "Unmarshal", v.Name+"+trailing", b, unmarshalAny(b), ErrTrailing)
		}
	}
}

// Extra elements at the end of the message array are validated and ignored (forward compat).
func TestExtraElementsGolden(t *testing.T) {
	for _, v := range goldenFrames(t) {
		full := goldenBytes(t, v)
		if full[0] < 0x90 || full[0] >= 0x9f {
			t.Fatalf("%s: not a fixarray with room for one more element", v.Name)
		}
		want, err := decodeDir(v.Dir, full)
		if err != nil {
			t.Fatal(err)
		}
		bump := func(extra ...[]byte) []byte {
			b := cat(full, cat(extra...))
			b[0] += byte(len(extra))
			return b
		}
		for _, extra := range [][][]byte{
			{{0xc0}},
			{h("a3 6e6577")},                  // "new"
			{h("92 01 82 a1 61 c3 a1 62 90")}, // [1, {"a": true, "b": []}]
			{h("d6 ff 00000000"), h("cb 3ff8000000000000")}, // two of them
		} {
			b := bump(extra...)
			got, err := decodeDir(v.Dir, b)
			if err != nil {
				t.Errorf("%s + extra %x: %v", v.Name, cat(extra...), err)
				continue
			}
			if !reflect.DeepEqual(normalize(got), normalize(want)) {
				t.Errorf("%s + extra: decoded %+v, want %+v", v.Name, got, want)
			}
		}
		// Extra elements are still validated.
		for _, bad := range []struct {
			extra []byte
			err   error
		}{
			{h("a1 ff"), ErrInvalid},
			{h("ca 7fc00000"), ErrInvalid},
			{h("d4 01 00"), ErrInvalid},
			{cat(bytes.Repeat([]byte{0x91}, MaxDepth), []byte{0x90}), ErrTooDeep},
			{h("dd ffffffff"), ErrMalformed},
			{h("cb 00"), ErrTruncated},
		} {
			b := bump(bad.extra)
			_, err := decodeDir(v.Dir, b)
			wantErr(t, "decode", v.Name+" + bad extra", b, err, bad.err)
			wantErr(t, "Validate", v.Name+" + bad extra", b, validate(b), bad.err)
		}
	}
}

// normalize makes decoded messages comparable: a MESSAGE's To may be nil or empty.
func normalize(m any) any {
	switch x := m.(type) {
	case ClientMsg:
		if len(x.To) == 0 {
			x.To = nil
		}
		return x
	case *ClientMsg:
		return normalize(*x)
	case *ServerMsg:
		return *x
	}
	return m
}

func TestWrongTypes(t *testing.T) {
	u64max := h("cf ffffffffffffffff")
	two32 := h("cf 0000000100000000")
	runHostile(t, []hostileCase{
		// Not a message at all.
		{"empty frame", nil, ErrTruncated, ErrTruncated, ErrTruncated},
		{"int", h("04"), ErrType, ErrType, nil},
		{"map", h("81 00 04"), ErrType, ErrType, nil},
		{"str", h("a1 34"), ErrType, ErrType, nil},
		{"nil", h("c0"), ErrType, ErrType, nil},
		{"empty array", h("90"), ErrMalformed, ErrMalformed, nil},
		{"empty array16", h("dc 0000"), ErrMalformed, ErrMalformed, nil},
		// Op in the wrong type or out of range.
		{"op str", h("94 a1 34 01 01 c0"), ErrType, ErrType, nil},
		{"op float", h("94 cb 4010000000000000 01 01 c0"), ErrType, ErrType, nil},
		{"op nil", h("92 c0 01"), ErrType, ErrType, nil},
		{"op negative", h("92 ff 01"), ErrInvalid, ErrInvalid, nil},
		{"op -256+4", h("94 d1 ff04 01 01 c0"), ErrInvalid, ErrInvalid, nil},
		{"op 260 (4 mod 256)", h("94 cd 0104 01 01 c0"), ErrUnknownOp, ErrUnknownOp, nil},
		{"op 2^32+4", h("94 cf 0000000100000004 01 01 c0"), ErrUnknownOp, ErrUnknownOp, nil},
		{"op 2^64-1", cat(h("94"), u64max, h("01 01 c0")), ErrUnknownOp, ErrUnknownOp, nil},
		{"op 290 (34 mod 256)", h("99 cd 0122 01 01 01 c0 c0 c0 c0 c0"), ErrUnknownOp, ErrUnknownOp, nil},
		// Too few elements.
		{"input 3 elements", h("93 04 01 01"), ErrMalformed, ErrUnknownOp, nil},
		{"input op only", h("91 04"), ErrMalformed, ErrUnknownOp, nil},
		{"hello 3 elements", h("93 01 01 c0"), ErrMalformed, ErrUnknownOp, nil},
		{"join 4 elements", h("94 02 01 a0 c0"), ErrMalformed, ErrUnknownOp, nil},
		{"resume 5 elements", h("95 07 01 a0 a0 00"), ErrMalformed, ErrUnknownOp, nil},
		{"delta 8 elements", h("98 22 01 01 01 c0 c0 c0 c0"), ErrUnknownOp, ErrMalformed, nil},
		{"joined 11 elements", h("9b 21 01 a0 a0 01 01 01 01 80 c0 80"), ErrUnknownOp, ErrMalformed, nil},
		{"relay 5 elements", h("95 2a a0 01 01 c4 00"), ErrUnknownOp, ErrMalformed, nil},
		// INPUT seq/seen.
		{"input seq str", h("94 04 a1 31 01 c0"), ErrType, ErrUnknownOp, nil},
		{"input seq nil", h("94 04 c0 01 c0"), ErrType, ErrUnknownOp, nil},
		{"input seq float", h("94 04 cb 3ff0000000000000 01 c0"), ErrType, ErrUnknownOp, nil},
		{"input seq bool", h("94 04 c3 01 c0"), ErrType, ErrUnknownOp, nil},
		{"input seq array", h("94 04 91 01 01 c0"), ErrType, ErrUnknownOp, nil},
		{"input seq -1", h("94 04 ff 01 c0"), ErrInvalid, ErrUnknownOp, nil},
		{"input seq int64 -1", h("94 04 d3 ffffffffffffffff 01 c0"), ErrInvalid, ErrUnknownOp, nil},
		{"input seq 2^32", cat(h("94 04"), two32, h("01 c0")), ErrInvalid, ErrUnknownOp, nil},
		{"input seq 2^64-1", cat(h("94 04"), u64max, h("01 c0")), ErrInvalid, ErrUnknownOp, nil},
		{"input seq 2^32-1", h("94 04 ce ffffffff 01 c0"), nil, ErrUnknownOp, nil},
		{"input seq 1 as uint64", h("94 04 cf 0000000000000001 01 c0"), nil, ErrUnknownOp, nil},
		{"input seq 1 as int8", h("94 04 d0 01 01 c0"), nil, ErrUnknownOp, nil},
		{"input seen str", h("94 04 01 a0 c0"), ErrType, ErrUnknownOp, nil},
		{"input seen -5", h("94 04 01 fb c0"), ErrInvalid, ErrUnknownOp, nil},
		{"input seen 2^32", cat(h("94 04 01"), two32, h("c0")), ErrInvalid, ErrUnknownOp, nil},
		{"input payload 0xc1", h("94 04 01 01 c1"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		// HELLO / JOIN / RESUME / SYNC / LEAVE.
		{"hello req str", h("94 01 a0 c0 a0"), ErrType, ErrUnknownOp, nil},
		{"hello token int", h("94 01 01 05 a0"), ErrType, ErrUnknownOp, nil},
		{"hello token bin", h("94 01 01 c4 01 78 a0"), ErrType, ErrUnknownOp, nil},
		{"hello token too long", cat(h("94 01 01 da 1001"), bytes.Repeat([]byte("t"), MaxTokenLen+1), h("a0")), ErrInvalid, ErrUnknownOp, nil},
		{"hello token at cap", cat(h("94 01 01 da 1000"), bytes.Repeat([]byte("t"), MaxTokenLen), h("a0")), nil, ErrUnknownOp, nil},
		{"hello client array", h("94 01 01 c0 90"), ErrType, ErrUnknownOp, nil},
		{"join match int", h("95 02 01 01 c0 c0"), ErrType, ErrUnknownOp, nil},
		{"join match too long", cat(h("95 02 01 d9 41"), bytes.Repeat([]byte("m"), MaxIDLen+1), h("c0 c0")), ErrInvalid, ErrUnknownOp, nil},
		{"join ticket true", h("95 02 01 a0 c3 c0"), ErrType, ErrUnknownOp, nil},
		{"leave req -1", h("92 03 ff"), ErrInvalid, ErrUnknownOp, nil},
		{"leave req 2^32", cat(h("92 03"), two32), ErrInvalid, ErrUnknownOp, nil},
		{"resume session nil", h("96 07 01 c0 a1 72 00 00"), ErrType, ErrUnknownOp, nil},
		{"resume token int", h("96 07 01 a1 73 07 00 00"), ErrType, ErrUnknownOp, nil},
		{"resume epoch str", h("96 07 01 a1 73 a1 72 a0 00"), ErrType, ErrUnknownOp, nil},
		{"resume tick -1", h("96 07 01 a1 73 a1 72 00 ff"), ErrInvalid, ErrUnknownOp, nil},
		{"sync epoch float", h("94 08 01 ca 3f800000 00"), ErrType, ErrUnknownOp, nil},
		// MESSAGE.
		{"message to map", h("94 05 80 c2 c0"), ErrType, ErrUnknownOp, nil},
		{"message to int", h("94 05 01 c2 c0"), ErrType, ErrUnknownOp, nil},
		{"message to str element", h("94 05 91 a1 32 c2 c0"), ErrType, ErrUnknownOp, nil},
		{"message to negative pid", h("94 05 91 ff c2 c0"), ErrInvalid, ErrUnknownOp, nil},
		{"message to 65 pids", cat(h("94 05 dc 0041"), bytes.Repeat([]byte{0x01}, 65), h("c2 c0")), ErrInvalid, ErrUnknownOp, nil},
		{"message to 64 pids", cat(h("94 05 dc 0040"), bytes.Repeat([]byte{0x01}, 64), h("c2 c0")), nil, ErrUnknownOp, nil},
		{"message echo int", h("94 05 c0 01 c0"), ErrType, ErrUnknownOp, nil},
		{"message echo nil", h("94 05 c0 c0 c0"), ErrType, ErrUnknownOp, nil},
		// PING.
		{"ping t str", h("92 06 a1 31"), ErrType, ErrUnknownOp, nil},
		{"ping t nil", h("92 06 c0"), ErrType, ErrUnknownOp, nil},
		{"ping t array", h("92 06 91 01"), ErrType, ErrUnknownOp, nil},
		{"ping t timestamp", h("92 06 d6 ff 00000000"), ErrType, ErrUnknownOp, nil},
		{"ping t -1", h("92 06 ff"), nil, ErrUnknownOp, nil},
		{"ping t uint64 max", cat(h("92 06"), u64max), nil, ErrUnknownOp, nil},
		{"ping t int truncated", h("92 06 cf 00000001"), ErrTruncated, ErrUnknownOp, ErrTruncated},
		// Server messages.
		{"delta epoch str", h("99 22 a0 01 01 c0 c0 c0 c0 c0"), ErrUnknownOp, ErrType, nil},
		{"delta tick -1", h("99 22 01 ff 01 c0 c0 c0 c0 c0"), ErrUnknownOp, ErrInvalid, nil},
		{"delta since 2^32", cat(h("99 22 01 01"), two32, h("c0 c0 c0 c0 c0")), ErrUnknownOp, ErrInvalid, nil},
		{"delta ack str", h("99 22 01 01 01 c0 c0 a1 31 c0 c0"), ErrUnknownOp, ErrType, nil},
		{"delta ack -1", h("99 22 01 01 01 c0 c0 ff c0 c0"), ErrUnknownOp, ErrInvalid, nil},
		{"welcome session nil", h("96 20 c0 a0 a0 00 00"), ErrUnknownOp, ErrType, nil},
		{"welcome serverTime str", h("96 20 a0 a0 a0 a0 00"), ErrUnknownOp, ErrType, nil},
		{"welcome serverTime 2^64-1", cat(h("96 20 a0 a0 a0"), u64max, h("00")), ErrUnknownOp, ErrInvalid, nil},
		{"welcome serverTime -1", h("96 20 a0 a0 a0 ff 00"), ErrUnknownOp, nil, nil},
		{"joined state nil", h("9c 21 01 a0 a0 01 01 01 01 c0 c0 80 c0"), ErrUnknownOp, ErrType, nil},
		{"joined state int", h("9c 21 01 a0 a0 01 01 01 01 05 c0 80 c0"), ErrUnknownOp, ErrType, nil},
		{"joined members nil", h("9c 21 01 a0 a0 01 01 01 01 80 c0 c0 c0"), ErrUnknownOp, ErrType, nil},
		{"joined members array", h("9c 21 01 a0 a0 01 01 01 01 80 c0 90 c0"), ErrUnknownOp, ErrType, nil},
		{"joined empty", h("9c 21 01 a0 a0 01 01 01 01 80 c0 80 c0"), ErrUnknownOp, nil, nil},
		{"joined state map16", h("9c 21 01 a0 a0 01 01 01 01 de 0000 c0 df 00000000 c0"), ErrUnknownOp, nil, nil},
		{"error code str", h("95 25 a0 a0 00 00"), ErrUnknownOp, ErrType, nil},
		{"error code 65536+5", h("95 25 ce 00010005 a0 00 00"), ErrUnknownOp, ErrInvalid, nil},
		{"error ref op 256+2", h("95 25 05 a0 cd 0102 00"), ErrUnknownOp, ErrInvalid, nil},
		{"error message too long", cat(h("95 25 05 da 0401"), bytes.Repeat([]byte("e"), MaxMessageLen+1), h("00 00")), ErrUnknownOp, ErrInvalid, nil},
		{"event kind 256+7", h("94 23 cd 0107 00 c0"), ErrUnknownOp, ErrInvalid, nil},
		{"event kind str", h("94 23 a0 00 c0"), ErrUnknownOp, ErrType, nil},
		{"end reason 256+1", h("95 26 01 01 cd 0101 c0"), ErrUnknownOp, ErrInvalid, nil},
		{"pong t str", h("93 24 a0 00"), ErrUnknownOp, ErrType, nil},
		{"pong serverTime float", h("93 24 00 ca 3f800000"), ErrUnknownOp, ErrType, nil},
		{"relay frame str", h("96 2a a0 01 01 a0 c0"), ErrUnknownOp, ErrType, nil},
		{"relay frame nil", h("96 2a a0 01 01 c0 c0"), ErrUnknownOp, ErrType, nil},
		{"relay match int", h("96 2a 01 01 01 c4 00 c0"), ErrUnknownOp, ErrType, nil},
	})
}

// Every element of every golden message replaced by values of every type: no panic, and any
// refusal wraps a sentinel. (The table above pins the exact errors; this covers the rest.)
func TestWrongTypesEverywhere(t *testing.T) {
	repl := [][]byte{
		h("c0"), h("c2"), h("c3"), h("00"), h("7f"), h("ff"), h("d0 80"), h("cc ff"), h("cd ffff"),
		h("ce ffffffff"), h("cf 0000000100000000"), h("cf ffffffffffffffff"), h("d3 8000000000000000"),
		h("ca 3fc00000"), h("cb 3ff8000000000000"), h("ca 7fc00000"), h("cb 7ff0000000000000"),
		h("a0"), h("a1 78"), h("a2 c3 28"), cat(h("d9 c8"), bytes.Repeat([]byte("s"), 200)),
		h("c4 00"), h("c4 02 0102"), h("90"), h("92 01 02"), h("80"), h("81 a1 61 01"), h("81 01 01"),
		h("d6 ff 00000000"), h("d4 01 00"), h("c1"), h("dd ffffffff"), h("db ffffffff"),
	}
	for _, v := range goldenFrames(t) {
		full := goldenBytes(t, v)
		r := NewReader(full)
		n, err := r.ArrayLen()
		if err != nil {
			t.Fatal(err)
		}
		elems := make([][]byte, n)
		for i := range elems {
			if elems[i], err = r.Raw(2); err != nil {
				t.Fatal(err)
			}
		}
		for pos := range elems {
			for _, x := range repl {
				b := AppendArrayHeader(nil, n)
				for i, e := range elems {
					if i == pos {
						e = x
					}
					b = append(b, e...)
				}
				for _, side := range []string{"c2s", "s2c"} {
					if _, err := decodeDir(side, b); err != nil && sentinelOf(err) == nil {
						t.Errorf("%s element %d = %x (%s): %v", v.Name, pos, x, side, err)
					}
				}
				if err := validate(b); err != nil && sentinelOf(err) == nil {
					t.Errorf("%s element %d = %x: Validate: %v", v.Name, pos, x, err)
				}
				if err := unmarshalAny(b); err != nil && strings.HasPrefix(err.Error(), "PANIC") {
					t.Errorf("%s element %d = %x: Unmarshal: %v", v.Name, pos, x, err)
				}
			}
		}
	}
}

var nonFinite = []struct {
	name string
	b    []byte
}{
	{"f32 NaN", h("ca 7fc00000")},
	{"f32 signalling NaN", h("ca 7f800001")},
	{"f32 -NaN", h("ca ffc00000")},
	{"f32 +Inf", h("ca 7f800000")},
	{"f32 -Inf", h("ca ff800000")},
	{"f64 NaN", h("cb 7ff8000000000000")},
	{"f64 signalling NaN", h("cb 7ff0000000000001")},
	{"f64 -NaN", h("cb fff8000000000000")},
	{"f64 +Inf", h("cb 7ff0000000000000")},
	{"f64 -Inf", h("cb fff0000000000000")},
}

func TestNonFiniteFloats(t *testing.T) {
	var cases []hostileCase
	for _, f := range nonFinite {
		cases = append(cases,
			hostileCase{"value " + f.name, f.b, ErrType, ErrType, ErrInvalid},
			hostileCase{"ping t " + f.name, cat(h("92 06"), f.b), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"pong t " + f.name, cat(h("93 24"), f.b, h("00")), ErrUnknownOp, ErrInvalid, ErrInvalid},
			hostileCase{"input payload " + f.name, cat(h("94 04 01 01 92"), f.b, h("00")), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"input payload map value " + f.name, cat(h("94 04 01 01 81 a1 78"), f.b), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"input payload map key " + f.name, cat(h("94 04 01 01 81"), f.b, h("00")), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"delta field " + f.name, cat(h("99 22 01 0b 01 93 c0 81 01 81 00"), f.b, h("c0 c0 c0 c0 c0")), ErrUnknownOp, ErrInvalid, ErrInvalid},
			hostileCase{"joined state " + f.name, cat(h("9c 21 01 a0 a0 01 01 01 01 81 01 81 00"), f.b, h("c0 80 c0")), ErrUnknownOp, ErrInvalid, ErrInvalid},
		)
	}
	// Finite extremes are fine.
	for _, f := range []string{"ca 7f7fffff", "ca ff7fffff", "ca 00000001", "ca 80000000", "cb 7fefffffffffffff", "cb 0000000000000001", "cb 8000000000000000"} {
		cases = append(cases,
			hostileCase{"ping t " + f, cat(h("92 06"), h(f)), nil, ErrUnknownOp, nil},
			hostileCase{"input payload " + f, cat(h("94 04 01 01"), h(f)), nil, ErrUnknownOp, nil},
		)
	}
	runHostile(t, cases)
}

var badUTF8 = []struct {
	name string
	s    []byte
}{
	{"lone continuation", h("80")},
	{"truncated 2-byte", h("c3")},
	{"bad continuation", h("c3 28")},
	{"overlong slash", h("c0 af")},
	{"overlong NUL", h("c0 80")},
	{"surrogate half", h("ed a0 80")},
	{"above U+10FFFF", h("f4 90 80 80")},
	{"0xff", h("ff")},
	{"valid then bad", []byte("ok\xfe")},
}

func TestInvalidUTF8(t *testing.T) {
	str := func(s []byte) []byte { return AppendString(nil, string(s)) }
	var cases []hostileCase
	for _, u := range badUTF8 {
		s := str(u.s)
		cases = append(cases,
			hostileCase{"value " + u.name, s, ErrType, ErrType, ErrInvalid},
			hostileCase{"str8 value " + u.name, cat(h("d9"), []byte{byte(len(u.s))}, u.s), ErrType, ErrType, ErrInvalid},
			hostileCase{"hello token " + u.name, cat(h("94 01 01"), s, h("a0")), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"hello client " + u.name, cat(h("94 01 01 c0"), s), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"join match " + u.name, cat(h("95 02 01"), s, h("c0 c0")), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"join ticket " + u.name, cat(h("95 02 01 a0"), s, h("c0")), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"resume session " + u.name, cat(h("96 07 01"), s, h("a0 00 00")), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"resume token " + u.name, cat(h("96 07 01 a0"), s, h("00 00")), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"input payload " + u.name, cat(h("94 04 01 01"), s), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"input payload map key " + u.name, cat(h("94 04 01 01 81"), s, h("c0")), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"message payload nested " + u.name, cat(h("94 05 c0 c2 91 91"), s), ErrInvalid, ErrUnknownOp, ErrInvalid},
			hostileCase{"welcome user " + u.name, cat(h("96 20 a0 a0"), s, h("00 00")), ErrUnknownOp, ErrInvalid, ErrInvalid},
			hostileCase{"error message " + u.name, cat(h("95 25 01"), s, h("00 00")), ErrUnknownOp, ErrInvalid, ErrInvalid},
			hostileCase{"relay match " + u.name, cat(h("96 2a"), s, h("01 01 c4 00 c0")), ErrUnknownOp, ErrInvalid, ErrInvalid},
		)
	}
	// bin is not checked: it is bytes, not text.
	cases = append(cases, hostileCase{"bin with 0xff", h("94 04 01 01 c4 01 ff"), nil, ErrUnknownOp, nil})
	// Valid multi-byte UTF-8 passes.
	cases = append(cases, hostileCase{"hello client é漢😀", cat(h("94 01 01 c0"), str([]byte("é漢😀"))), nil, ErrUnknownOp, nil})
	runHostile(t, cases)
}

func TestExtTypes(t *testing.T) {
	in := func(x string) []byte { return cat(h("94 04 01 01"), h(x)) }
	runHostile(t, []hostileCase{
		// Only the timestamp (-1) in its three forms.
		{"fixext4 ts", in("d6 ff 5f5e0ff0"), nil, ErrUnknownOp, nil},
		{"fixext8 ts", in("d7 ff 00000004 5f5e0ff0"), nil, ErrUnknownOp, nil},
		{"ext8/12 ts", in("c7 0c ff 3b9ac9ff 0000000000000001"), nil, ErrUnknownOp, nil},
		{"ts in array", in("93 d6 ff 00000000 d7 ff 0000000000000000 c7 0c ff 000000000000000000000000"), nil, ErrUnknownOp, nil},
		{"ts as map key", in("81 d6 ff 00000000 c0"), nil, ErrUnknownOp, nil},
		// Other ext types, or the timestamp type in a size it does not have.
		{"fixext4 type 1", in("d6 01 00000000"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"fixext4 type 0", in("d6 00 00000000"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"fixext4 type -2", in("d6 fe 00000000"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"fixext8 type 127", in("d7 7f 0000000000000000"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"fixext8 type -128", in("d7 80 0000000000000000"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"ext8/12 type 5", in("c7 0c 05 000000000000000000000000"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"ext8/4 type -1", in("c7 04 ff 00000000"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"ext8/0 type -1", in("c7 00 ff"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"fixext1 type -1", in("d4 ff 00"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"fixext2 type -1", in("d5 ff 0000"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"fixext16 type -1", in("d8 ff 00000000000000000000000000000000"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"ext16/12 type -1", in("c8 000c ff 000000000000000000000000"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"ext32/12 type -1", in("c9 0000000c ff 000000000000000000000000"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"never-used 0xc1", in("c1"), ErrInvalid, ErrUnknownOp, ErrInvalid},
		{"ext type 1 in delta", h("99 22 01 01 01 d6 01 00000000 c0 c0 c0 c0"), ErrUnknownOp, ErrInvalid, ErrInvalid},
		// Truncated timestamps.
		{"fixext4 ts cut", in("d6 ff 0000"), ErrTruncated, ErrUnknownOp, ErrTruncated},
		{"fixext8 ts cut", in("d7 ff 00000000"), ErrTruncated, ErrUnknownOp, ErrTruncated},
		{"ext8 ts cut", in("c7 0c ff 00"), ErrMalformed, ErrUnknownOp, ErrMalformed},
		{"fixext4 no type", in("d6"), ErrTruncated, ErrUnknownOp, ErrTruncated},
	})
	// Valid timestamps reach Unmarshal as time.Time.
	for _, x := range []string{"d6 ff 5f5e0ff0", "d7 ff 00000004 5f5e0ff0", "c7 0c ff 3b9ac9ff 0000000000000001"} {
		var v any
		if err := Unmarshal(h(x), &v); err != nil {
			t.Errorf("Unmarshal(%s): %v", x, err)
		} else if _, ok := v.(time.Time); !ok {
			t.Errorf("Unmarshal(%s) = %T, want time.Time", x, v)
		}
	}
}

func TestUnknownOps(t *testing.T) {
	var cases []hostileCase
	for _, op := range []uint64{0, 9, 10, 31, 43, 63, 64, 127, 200, 255, 256, 256 + 4, 256 + 34, 1 << 16, 1<<16 + 1, 1 << 32, 1<<32 + 33} {
		b := AppendArrayHeader(nil, 12)
		b = AppendUint(b, op)
		for i := 0; i < 11; i++ {
			b = append(b, 0x00)
		}
		cases = append(cases, hostileCase{fmt.Sprintf("op %d", op), b, ErrUnknownOp, ErrUnknownOp, nil})
	}
	// Each side refuses the other side's ops.
	for _, v := range goldenFrames(t) {
		b := goldenBytes(t, v)
		c := hostileCase{v.Name + " to the other side", b, ErrUnknownOp, ErrUnknownOp, nil}
		if v.Dir == "c2s" {
			c.c = nil
		} else {
			c.s = nil
		}
		cases = append(cases, c)
	}
	runHostile(t, cases)
}

func TestNonCanonicalAccepted(t *testing.T) {
	// Integers and headers in wider forms than needed are still valid msgpack.
	for _, b := range [][]byte{
		h("dc 0004 04 01 01 c0"),
		h("dd 00000004 04 01 01 c0"),
		h("94 cc 04 cd 0001 ce 00000001 c0"),
		h("94 d0 04 d1 0001 d2 00000001 d3 0000000000000001"),
		h("94 04 01 01 de 0001 d9 01 78 dc 0000"),
	} {
		m, err := decClient(b)
		if err != nil || m.Op != OpInput || m.Seq != 1 || m.Seen != 1 {
			t.Errorf("%x: %+v, %v", b, m, err)
		}
	}
}

func TestUnmarshalNeverPanics(t *testing.T) {
	// Map keys that Go cannot hash: msgpack/v5 panics decoding them into map[any]any.
	for _, x := range []string{"81 90 c0", "81 80 c0", "82 01 c0 91 01 c0"} {
		var m map[any]any
		err := safeCall(func() error { return Unmarshal(h(x), &m) })
		if err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("Unmarshal(%s) into map[any]any: %v, want ErrInvalid", x, err)
		}
	}
	// Into typed destinations, hostile values are errors.
	var dst struct {
		X float64 `msgpack:"x"`
	}
	for _, x := range []string{"81 a1 78 a1 78", "81 a1 78 91 01", "dd ffffffff", "81 a1 78 ca 7fc00000"} {
		if err := safeCall(func() error { return Unmarshal(h(x), &dst) }); err == nil || strings.HasPrefix(err.Error(), "PANIC") {
			t.Errorf("Unmarshal(%s) into struct: %v", x, err)
		}
	}
	var arr [2]float64
	if err := safeCall(func() error { return Unmarshal(h("93 01 02 03"), &arr) }); err != nil && strings.HasPrefix(err.Error(), "PANIC") {
		t.Errorf("Unmarshal into [2]float64: %v", err)
	}
}

func TestErrorFrameDecodes(t *testing.T) {
	for _, msg := range []string{
		strings.Repeat("é", MaxMessageLen),         // the cap falls inside a 2-byte rune
		strings.Repeat("x", MaxMessageLen-1) + "😀", // inside a 4-byte rune
		"bad \xff utf-8",
		strings.Repeat("a", 5000),
		"",
	} {
		b := ErrorFrame(ErrCodeMalformed, msg, OpInput, 7)
		m, err := decServer(b)
		if err != nil {
			t.Errorf("ErrorFrame(%d-byte message) does not decode: %v", len(msg), err)
			continue
		}
		if !utf8.ValidString(m.Message) || len(m.Message) > MaxMessageLen || m.RefID != 7 {
			t.Errorf("ErrorFrame(%d bytes): %+v", len(msg), m)
		}
		if utf8.ValidString(msg) && !strings.HasPrefix(msg, m.Message) {
			t.Errorf("ErrorFrame(%d bytes): message %q is not a prefix", len(msg), m.Message)
		}
	}
}
