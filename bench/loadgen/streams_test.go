package loadgen

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/tickrelay/tickrelay/protocol"
)

// The load generator follows streams by the same rules as the Mirror and the JS SDK: on the
// shared stream vectors it finds the same fit for every DELTA until the first gap (after which
// it follows the new base instead of repairing), and again after each JOINED or CATCHUP.
func TestFollowerOnStreamVectors(t *testing.T) {
	raw, err := os.ReadFile("../../protocol/testdata/streams.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Streams []struct {
			Name   string `json:"name"`
			Frames []struct {
				Hex string `json:"hex"`
				Fit string `json:"fit"`
			} `json:"frames"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	checked := map[string]int{}
	for _, s := range file.Streams {
		var f follower
		diverged := false
		for i, fr := range s.Frames {
			b, err := hex.DecodeString(fr.Hex)
			if err != nil {
				t.Fatal(err)
			}
			var m protocol.ServerMsg
			if err := protocol.DecodeServer(b, &m); err != nil {
				t.Fatal(err)
			}
			switch m.Op {
			case protocol.OpJoined, protocol.OpCatchup:
				f.snapshot(m.Epoch, m.Tick)
				diverged = false
			case protocol.OpDelta:
				fit := f.delta(&m).String()
				if !diverged {
					if fit != fr.Fit {
						t.Fatalf("%s frame %d: the load generator says %s, the vector %s", s.Name, i, fit, fr.Fit)
					}
					checked[fit]++
				}
				diverged = diverged || fit == "gap"
			}
		}
	}
	for _, fit := range []string{"ok", "stale", "gap"} {
		if checked[fit] == 0 {
			t.Fatalf("checked %v: no %s frame", checked, fit)
		}
	}
}
