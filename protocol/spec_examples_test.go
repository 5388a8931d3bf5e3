package protocol

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The examples in PROTOCOL.md are golden vectors: every message written out there must be,
// byte for byte, one of testdata/golden.json's (so the spec and the vectors cannot disagree).
func TestSpecExamplesAreGoldenVectors(t *testing.T) {
	spec, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	byHex := map[string]string{}
	for _, v := range g.Vectors {
		byHex[v.Hex] = v.Name
	}
	section := string(spec)
	i := strings.Index(section, "\n## Examples")
	if i < 0 {
		t.Fatal("PROTOCOL.md has no Examples section")
	}
	section = section[i:]
	// A code line is 4 spaces, then hex byte pairs, then (after two spaces or more) a comment.
	line := regexp.MustCompile(`^    ((?:[0-9a-f]{2} ?)+?)(?:\s{2,}.*)?$`)
	var stream []byte
	for _, l := range strings.Split(section, "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(m[1]), " ", ""))
		if err != nil {
			t.Fatalf("bad hex in %q: %v", l, err)
		}
		stream = append(stream, b...)
	}
	seen := map[string]bool{}
	r := NewReader(stream)
	for r.Remaining() > 0 {
		msg, err := r.Raw(1)
		if err != nil {
			t.Fatalf("the examples' bytes do not split into messages: %v", err)
		}
		name, ok := byHex[hex.EncodeToString(msg)]
		if !ok {
			t.Fatalf("example %x is no golden vector", msg)
		}
		seen[name] = true
	}
	for _, want := range []string{"join-by-id", "input-arena", "delta-arena", "delta-respawn"} {
		if !seen[want] {
			t.Errorf("the examples do not show %s (saw %v)", want, seen)
		}
	}
}
