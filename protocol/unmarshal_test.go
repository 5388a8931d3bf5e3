package protocol

import (
	"errors"
	"testing"
	"time"
)

// A timestamp whose body begins with map32 0x30303030: vmihailenco/msgpack reads through the ext
// header where it expects a map and sized a map[string]any for 808 million entries (the fuzz
// worker was killed). Refused for destinations that hold maps; decoded elsewhere.
func TestUnmarshalExtReadAsMapRefused(t *testing.T) {
	b := []byte("\xd7\xff\xdf0000000")
	var ms map[string]any
	var mm map[any]any
	var st struct {
		M map[string]int `msgpack:"m"`
	}
	var sl []map[string]any
	for _, dst := range []any{&ms, &mm, &st, &sl} {
		if err := Unmarshal(b, dst); !errors.Is(err, ErrInvalid) {
			t.Fatalf("into %T: %v, want ErrInvalid", dst, err)
		}
	}
	var v any
	if err := Unmarshal(b, &v); err != nil {
		t.Fatalf("into any: %v", err)
	}
	if _, ok := v.(time.Time); !ok {
		t.Fatalf("into any: %T, want time.Time", v)
	}
	var ts time.Time
	if err := Unmarshal(b, &ts); err != nil {
		t.Fatalf("into time.Time: %v", err)
	}
	// A timestamp inside a map value is read as a timestamp, and its body's would-be map
	// header is small here: accepted.
	ok := []byte("\x81\xa1t\xd7\xff\x00\x00\x00\x00\x00\x00\x00\x01")
	if err := Unmarshal(ok, &ms); err != nil || ms["t"] == nil {
		t.Fatalf("a small timestamp in a map: %v %v", ms, err)
	}
}
