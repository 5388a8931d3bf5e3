package protocol

import (
	"bytes"
	"errors"
	"testing"
)

// The payload depth budget is tight: a payload the budget accepts decodes wherever the server
// puts it (as a MESSAGE or SERVER event in a DELTA, as a GAME event's payload, as a field
// value), and one level more does not fit the deepest of those places.
func TestPayloadDepthBudget(t *testing.T) {
	if PayloadDepth != 12 {
		t.Fatalf("PayloadDepth = %d: the spec (PROTOCOL.md) says 12", PayloadDepth)
	}
	event := func(kind byte, data []byte) []byte { return cat([]byte{0x93, kind, 0x01}, data) }
	places := map[string]func(p []byte) []byte{
		"MESSAGE event in direct": func(p []byte) []byte {
			return cat(h("99 22 01 02 01 c0 c0 c0 c0 91"), event(4, p))
		},
		"SERVER event in events": func(p []byte) []byte {
			return cat(h("99 22 01 02 01 c0 91"), event(6, p), h("c0 c0 c0"))
		},
		"GAME event payload": func(p []byte) []byte {
			return cat(h("99 22 01 02 01 c0 91"), event(5, cat(h("92 a1 67"), p)), h("c0 c0 c0"))
		},
		"updated field value": func(p []byte) []byte {
			return cat(h("99 22 01 02 01 93 c0 81 01 81 00"), p, h("c0 c0 c0 c0 c0"))
		},
		"added field value": func(p []byte) []byte {
			return cat(h("99 22 01 02 01 93 81 01 81 00"), p, h("c0 c0 c0 c0 c0 c0"))
		},
		"JOINED state value": func(p []byte) []byte {
			return cat(h("9c 21 01 a1 6d a1 67 01 01 01 14 81 01 81 00"), p, h("c0 80 c0"))
		},
		"END result": func(p []byte) []byte { return cat(h("95 26 01 01 01"), p) },
	}
	deepest := 0
	for d := 1; d <= MaxDepth+1; d++ {
		payload := cat(bytes.Repeat([]byte{0x91}, d-1), []byte{0x01}) // spans d levels
		err := CheckPayload(payload)
		if (err == nil) != (d <= PayloadDepth) {
			t.Fatalf("depth %d: CheckPayload %v, want accepted=%v", d, err, d <= PayloadDepth)
		}
		if err != nil && !errors.Is(err, ErrTooDeep) {
			t.Fatalf("depth %d: %v, want ErrTooDeep", d, err)
		}
		allFit := true
		for name, place := range places {
			var m ServerMsg
			derr := DecodeServer(place(payload), &m)
			if err == nil && derr != nil {
				t.Fatalf("depth %d accepted by the budget, but %s does not decode: %v", d, name, derr)
			}
			allFit = allFit && derr == nil
		}
		if allFit {
			deepest = d
		}
	}
	if deepest != PayloadDepth {
		t.Fatalf("the deepest payload that fits every place is %d, the budget says %d", deepest, PayloadDepth)
	}
	// A client frame's payload may nest deeper than the budget (the codec takes it): the budget
	// is the server's rule for what it delivers.
	msg := cat(h("94 05 c0 c2"), bytes.Repeat([]byte{0x91}, MaxDepth-2), []byte{0x01})
	var cm ClientMsg
	if err := DecodeClient(msg, &cm); err != nil {
		t.Fatalf("a MESSAGE with a payload of depth %d: %v", MaxDepth-1, err)
	}
	if CheckPayload(cm.Payload) == nil {
		t.Fatal("that payload is within the budget?")
	}
	if err := CheckPayload(h("c1")); err == nil || errors.Is(err, ErrTooDeep) {
		t.Fatalf("invalid msgpack: %v, want a non-depth error", err)
	}
	if err := CheckPayload(h("01 02")); !errors.Is(err, ErrTrailing) {
		t.Fatalf("two values: %v, want ErrTrailing", err)
	}
}
