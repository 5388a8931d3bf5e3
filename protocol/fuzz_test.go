package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Fuzz targets. The seeds (every golden vector, the hostile headers, and the hostile tables
// of hostile_test.go) run as ordinary tests; to fuzz one:
//
//	go test ./protocol -run '^$' -fuzz '^FuzzDecodeClient$' -fuzztime 20s
//
// Allocation is checked in the bodies only for frames of 256 bytes or more: below that even the
// worst ratio measured (~165x, see alloc_test.go) stays inside the 64 KiB slack, so the check
// would be vacuous and would only slow the fuzzer down.

const fuzzAllocMinLen = 256

func addSeeds(f *testing.F) {
	for _, v := range goldenFrames(f) {
		b := goldenBytes(f, v)
		f.Add(b)
		f.Add(b[:len(b)/2])
		bumped := append(bytes.Clone(b), 0xc0)
		bumped[0]++
		f.Add(bumped)
	}
	for _, hh := range hostileHeaders {
		f.Add(hh.hdr)
		f.Add(cat(h("94 04 01 01"), hh.hdr))
		f.Add(cat(h("94 05 c0 c2"), hh.hdr, h("c0 c0 c0")))
		f.Add(cat(h("99 22 01 01 01"), hh.hdr, h("c0 c0 c0 c0")))
	}
	for _, nf := range nonFinite {
		f.Add(cat(h("92 06"), nf.b))
		f.Add(cat(h("93 24"), nf.b, h("00")))
	}
	for _, u := range badUTF8 {
		f.Add(cat(h("94 01 01 c0"), AppendString(nil, string(u.s))))
	}
	for _, s := range []string{
		"94 04 01 01 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 90",
		"94 cd 0104 01 01 c0", "99 cd 0122 01 01 01 c0 c0 c0 c0 c0",
		"9c 21 01 a0 a0 01 01 01 01 c0 c0 80 c0",
		"94 05 dc 0003 01 02 03 c3 81 a1 61 d6 ff 00000000",
		"94 04 01 01 c7 0c ff 3b9ac9ff 0000000000000001",
		"81 90 c0", "82 01 c0 91 01 c0", "dc 0010 80 80 80 80 80 80 80 80 80 80 80 80 80 80 80 80",
		"95 25 05 a0 cd 0102 00", "96 2a a2 6d31 01 0b c4 00 81 02 c4 03 01c0c0",
	} {
		f.Add(h(s))
	}
}

func checkSentinel(t *testing.T, who string, b []byte, err error) {
	t.Helper()
	if sentinelOf(err) == nil {
		t.Fatalf("%s(%x): error wraps no sentinel: %v", who, b, err)
	}
}

func checkAlloc(t *testing.T, who string, b []byte, budget uint64, f func()) {
	t.Helper()
	if len(b) < fuzzAllocMinLen {
		return
	}
	if n := bytesAllocated(f); n > budget {
		t.Fatalf("%s(%d bytes): allocated %d bytes, budget %d", who, len(b), n, budget)
	}
}

// sameMeaning checks that re, the re-encoding of the message decoded from b, means what b
// meant, element by element for the elements re has (b may have extra ones), through the JSON
// conventions: so a decoder cannot silently change a value (say, truncate op 260 to 4) even
// when decode(encode(decode(b))) == decode(b). nil, "" and [] are equivalent: the encoders
// write nil for an empty optional string or an everyone-MESSAGE.
func sameMeaning(t *testing.T, b, re []byte) {
	t.Helper()
	jb, err := MsgpackToJSON(b)
	if err != nil {
		return // a timestamp somewhere: no JSON meaning to compare
	}
	jre, err := MsgpackToJSON(re)
	if err != nil {
		t.Fatalf("re-encoding %x of %x: %v", re, b, err)
	}
	ab, are := jb.([]any), jre.([]any)
	if len(ab) == 12 && len(are) == 13 && reflect.DeepEqual(ab[0], are[0]) &&
		isOp(are[0], OpJoined) && reflect.DeepEqual(are[12], float64(0)) {
		// JOINED's 13th element, ack, is optional: a receiver reads a missing ack as 0
		// (PROTOCOL.md), and the encoder always writes it.
		are = are[:12]
	}
	if len(ab) < len(are) {
		t.Fatalf("%x has %d elements, its re-encoding %x has %d", b, len(ab), re, len(are))
	}
	norm := func(x any) any {
		switch y := x.(type) {
		case nil:
			return ""
		case []any:
			if len(y) == 0 {
				return ""
			}
		}
		return x
	}
	for i := range are {
		if !reflect.DeepEqual(norm(ab[i]), norm(are[i])) {
			t.Fatalf("element %d of %x means %v; re-encoded (%x) it means %v", i, b, ab[i], re, are[i])
		}
	}
}

// isOp tells whether a JSON-decoded first element (a float64, as MsgpackToJSON gives
// integers) is op.
func isOp(x any, op Op) bool {
	v, ok := x.(float64)
	return ok && v == float64(op)
}

func FuzzDecodeClient(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m ClientMsg
		err := DecodeClient(b, &m)
		checkAlloc(t, "DecodeClient", b, allocBudget(len(b)), func() { _ = DecodeClient(b, &m) })
		if err != nil {
			checkSentinel(t, "DecodeClient", b, err)
			return
		}
		if verr := Validate(b); verr != nil {
			t.Fatalf("DecodeClient accepts %x, Validate refuses it: %v", b, verr)
		}
		// Deterministic, whatever the struct held before.
		dirty := ClientMsg{Op: OpMessage, Req: 9, Token: "x", To: []uint32{7, 8, 9}, ToAll: true, Echo: true, Payload: []byte{1}}
		if err := DecodeClient(b, &dirty); err != nil || !reflect.DeepEqual(normalize(dirty), normalize(m)) {
			t.Fatalf("%x: decoded %+v into a used struct, %+v into a fresh one (%v)", b, dirty, m, err)
		}
		// Re-encoding gives a message that decodes to the same thing, and is canonical.
		re := AppendClient(nil, &m)
		var m2 ClientMsg
		if err := DecodeClient(re, &m2); err != nil {
			t.Fatalf("%x decodes to %+v, which encodes to %x, which does not decode: %v", b, m, re, err)
		}
		if !reflect.DeepEqual(normalize(m), normalize(m2)) {
			t.Fatalf("%x: decoded %+v; re-encoded %x decodes to %+v", b, m, re, m2)
		}
		if re2 := AppendClient(nil, &m2); !bytes.Equal(re, re2) {
			t.Fatalf("encoding is not stable: %x then %x", re, re2)
		}
		sameMeaning(t, b, re)
	})
}

func FuzzDecodeServer(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m ServerMsg
		err := DecodeServer(b, &m)
		checkAlloc(t, "DecodeServer", b, allocBudget(len(b)), func() { _ = DecodeServer(b, &m) })
		if err != nil {
			checkSentinel(t, "DecodeServer", b, err)
			return
		}
		if verr := Validate(b); verr != nil {
			t.Fatalf("DecodeServer accepts %x, Validate refuses it: %v", b, verr)
		}
		dirty := ServerMsg{Op: OpJoined, Req: 3, Match: "x", State: []byte{0x80}, HasAck: true, Ack: 5, Frame: []byte{1}}
		if err := DecodeServer(b, &dirty); err != nil || !reflect.DeepEqual(dirty, m) {
			t.Fatalf("%x: decoded %+v into a used struct, %+v into a fresh one (%v)", b, dirty, m, err)
		}
		re := AppendServer(nil, &m)
		var m2 ServerMsg
		if err := DecodeServer(re, &m2); err != nil {
			t.Fatalf("%x decodes to %+v, which encodes to %x, which does not decode: %v", b, m, re, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("%x: decoded %+v; re-encoded %x decodes to %+v", b, m, re, m2)
		}
		if re2 := AppendServer(nil, &m2); !bytes.Equal(re, re2) {
			t.Fatalf("encoding is not stable: %x then %x", re, re2)
		}
		sameMeaning(t, b, re)
		// A DELTA is its shared part plus a tail, whichever way it is encoded.
		if m.Op == OpDelta {
			shared := AppendDeltaHead(nil, m.Epoch, m.Tick, m.Since)
			shared = AppendRaw(AppendRaw(shared, m.Changes), m.Events)
			if split := AppendDeltaTail(shared, m.HasAck, m.Ack, m.Private, m.Direct); !bytes.Equal(split, re) {
				t.Fatalf("DELTA split encoding %x != %x", split, re)
			}
		}
	})
}

func FuzzValidate(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Validate(b)
		checkAlloc(t, "Validate", b, allocBudget(len(b)), func() { _ = Validate(b) })
		if err != nil {
			checkSentinel(t, "Validate", b, err)
			return
		}
		// msgpack is prefix-free: no strict prefix of a value is a value, and nothing may follow.
		if len(b) > 0 {
			if perr := Validate(b[:len(b)-1]); perr == nil {
				t.Fatalf("Validate accepts both %x and its prefix", b)
			}
		}
		if terr := Validate(append(bytes.Clone(b), 0xc0)); sentinelOf(terr) != ErrTrailing {
			t.Fatalf("Validate(%x + c0) = %v, want ErrTrailing", b, terr)
		}
		// Raw at depth 1 agrees with Validate.
		r := NewReader(b)
		if raw, err := r.Raw(1); err != nil || !bytes.Equal(raw, b) || r.Remaining() != 0 {
			t.Fatalf("Raw(1) of %x = %x, %v", b, raw, err)
		}
		// Wrapped as a message element (one level deeper), it is still valid unless too deep.
		wrapped := cat(h("94 04 01 01"), b)
		var m ClientMsg
		if err := DecodeClient(wrapped, &m); err != nil && sentinelOf(err) != ErrTooDeep {
			t.Fatalf("valid %x refused as an INPUT payload: %v", b, err)
		} else if err == nil && !bytes.Equal(m.Payload, b) {
			t.Fatalf("payload %x != %x", m.Payload, b)
		}
	})
}

func FuzzUnmarshal(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		err := safeCall(func() error { return Unmarshal(b, &v) })
		if err != nil && strings.HasPrefix(err.Error(), "PANIC") {
			t.Fatalf("Unmarshal(%x) into any: %v", b, err)
		}
		verr := Validate(b)
		if verr != nil {
			if sentinelOf(err) != sentinelOf(verr) {
				t.Fatalf("Unmarshal(%x) = %v, Validate = %v", b, err, verr)
			}
		}
		checkAlloc(t, "Unmarshal", b, unmarshalBudget(b), func() { v = nil; _ = Unmarshal(b, &v) })
		// Other destinations must not panic either.
		var mm map[any]any
		var ms map[string]any
		var sl []any
		var st struct {
			A int       `msgpack:"a"`
			B []float64 `msgpack:"b"`
			C string    `msgpack:"c"`
		}
		var arr [2]float64
		for _, dst := range []any{&mm, &ms, &sl, &st, &arr} {
			if err := safeCall(func() error { return Unmarshal(b, dst) }); err != nil {
				if strings.HasPrefix(err.Error(), "PANIC") {
					t.Fatalf("Unmarshal(%x) into %T: %v", b, dst, err)
				}
				if verr != nil && sentinelOf(err) != sentinelOf(verr) {
					t.Fatalf("Unmarshal(%x) into %T = %v, Validate = %v", b, dst, err, verr)
				}
			}
		}
	})
}

func FuzzMsgpackToJSON(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := MsgpackToJSON(b)
		if err != nil {
			if verr := Validate(b); verr != nil {
				checkSentinel(t, "MsgpackToJSON", b, err)
			}
			// Valid msgpack the JSON conventions cannot express (timestamps) is refused too.
			return
		}
		// MsgpackToJSON is a tooling helper, and much greedier than the decoders: every bin,
		// float and non-string-keyed map becomes a one-entry Go map ({"bin": ...}, {"map": ...}),
		// ~400 bytes each. Measured worst: ~280x for a 16 KiB array of {0: {}} (81 00 80).
		checkAlloc(t, "MsgpackToJSON", b, 320*uint64(len(b))+allocSlack, func() { _, _ = MsgpackToJSON(b) })
		// meaning -> bytes -> meaning is a fixed point after one round (the first round may
		// canonicalise: smallest ints, sorted keys, big ints as float64).
		b2, err := JSONToMsgpack(nil, j)
		if err != nil {
			t.Fatalf("%x means %v, which does not encode: %v", b, j, err)
		}
		j2, err := MsgpackToJSON(b2)
		if err != nil {
			t.Fatalf("%x -> %v -> %x does not decode: %v", b, j, b2, err)
		}
		b3, err := JSONToMsgpack(nil, j2)
		if err != nil || !bytes.Equal(b2, b3) {
			t.Fatalf("%x -> %x -> %x (%v): not a fixed point", b, b2, b3, err)
		}
		// And the meaning survives encoding/json, as golden.json and the JS suite use it.
		js, err := json.Marshal(j)
		if err != nil {
			t.Fatalf("%v: %v", j, err)
		}
		var back any
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		if b4, err := JSONToMsgpack(nil, back); err != nil || !bytes.Equal(b4, b2) {
			t.Fatalf("%x: through JSON %s gives %x, want %x (%v)", b, js, b4, b2, err)
		}
	})
}
