package failover

import (
	"testing"

	"github.com/tickrelay/tickrelay/game"
)

// The mirror check catches a mirror that differs from the server's snapshot at the same tick,
// and says nothing about a bot it could not compare.
func TestCompareMirrors(t *testing.T) {
	state := func(x string) *game.Mirror {
		return &game.Mirror{Public: map[uint32]map[uint32]string{1: {0: x, 1: "y"}, 2: {}}}
	}
	mk := func() *Bot { return NewBot(0, "", "m", []string{"a"}, 0, BotConfig{}) }
	x, good, bad, blind := mk(), mk(), mk(), mk()
	// x's snapshot: the server's state at (2, 50).
	x.mirror, x.mirror.Epoch, x.mirror.Tick = *state("1"), 2, 50
	x.snap = snapshotSum{epoch: 2, tick: 50, sum: publicSum(&x.mirror), ok: true}
	for _, b := range []*Bot{good, bad} {
		b.mirror = *state("1")
		if b == bad {
			b.mirror = *state("2")
		}
		b.mirror.Epoch, b.mirror.Tick = 2, 50
		b.remember()
	}
	blind.mirror, blind.mirror.Epoch, blind.mirror.Tick = *state("1"), 2, 49 // never had tick 50
	blind.remember()
	compareMirrors(map[string][]*Bot{"m": {x, good, bad, blind}})
	for b, want := range map[*Bot]string{good: "equal", bad: "differ", blind: "", x: ""} {
		if got := b.Figures().MirrorCheck; got != want {
			t.Errorf("bot %p: %q, want %q", b, got, want)
		}
	}
	if publicSum(state("1")) == publicSum(state("2")) {
		t.Fatal("the checksum does not see a changed field")
	}
}
