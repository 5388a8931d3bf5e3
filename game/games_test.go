package game_test

import (
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/game/duel"
	"github.com/tickrelay/tickrelay/protocol"
)

func hand(t *testing.T, mi *game.Mirror, pid uint32) []int {
	t.Helper()
	raw, ok := mi.Private[pid][uint32(duel.KeyHand)]
	if !ok {
		return nil
	}
	var h []int
	if err := protocol.Unmarshal([]byte(raw), &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDuelPrivateHandsTurnsAndResult(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "duel"})
	s := map[uint32]*sink{}
	mi := map[uint32]*game.Mirror{}
	for _, u := range []string{"ann", "bob"} {
		x := &sink{}
		pid := e.join(m, u, x)
		s[pid], mi[pid] = x, &game.Mirror{}
	}
	e.step(m)
	for pid := range s {
		feed(t, mi[pid], s[pid].take(t))
	}
	// Each sees its own hand of 5 and not the other's.
	for pid := uint32(1); pid <= 2; pid++ {
		other := 3 - pid
		if h := hand(t, mi[pid], pid); len(h) != 5 {
			t.Fatalf("pid %d hand %v", pid, h)
		}
		if _, seen := mi[pid].Private[other]; seen {
			t.Fatalf("pid %d sees pid %d's private fields", pid, other)
		}
		if _, leaked := mi[pid].Public[other][uint32(duel.KeyHand)]; leaked {
			t.Fatal("a hand leaked into public fields")
		}
		if mi[pid].Checksum() != view(t, m, pid) {
			t.Fatal("mirror differs")
		}
	}
	// A third player is refused by the game.
	wait := e.joinAsync(m, "cy", &sink{})
	e.step(m)
	if _, err := wait(); err == nil {
		t.Fatal("a third player joined a duel")
	}
	// Out of turn: refused, to that player alone.
	seq := map[uint32]uint32{}
	seq[2]++
	m.Input(2, seq[2], 0, []byte{0x91, 0x01}) // [1]
	e.step(m)
	fs := s[2].take(t)
	if len(fs) != 1 || fs[0].Direct == nil {
		t.Fatalf("want a direct 'refused' event, got %+v", fs)
	}
	feed(t, mi[2], fs)
	feed(t, mi[1], s[1].take(t))
	// Play the whole game: whoever's turn it is plays their lowest card.
	var end *protocol.ServerMsg
	for turn := 0; turn < 10 && end == nil; turn++ {
		table := mi[1].Public[uint32(duel.Table)]
		var pid uint32
		if err := protocol.Unmarshal([]byte(table[uint32(duel.KeyTurn)]), &pid); err != nil || pid == 0 {
			t.Fatalf("turn field %x: %v", table[uint32(duel.KeyTurn)], err)
		}
		card := hand(t, mi[pid], pid)[0]
		seq[pid]++
		in := protocol.AppendArrayHeader(nil, 1)
		m.Input(pid, seq[pid], 0, protocol.AppendUint(in, uint64(card)))
		e.step(m)
		for p := range s {
			fs := s[p].take(t)
			for i := range fs {
				if fs[i].Op == protocol.OpEnd {
					end = &fs[i]
					fs = fs[:i]
					break
				}
			}
			feed(t, mi[p], fs)
		}
	}
	if end == nil || end.Reason != protocol.EndFinished {
		t.Fatalf("no END(finished) after 10 cards: %+v", end)
	}
	var result struct {
		Winner uint32           `msgpack:"winner"`
		Tricks map[uint32]int64 `msgpack:"tricks"`
	}
	if err := protocol.Unmarshal(end.Result, &result); err != nil {
		t.Fatal(err)
	}
	if result.Tricks[1]+result.Tricks[2] != 5 || result.Winner == 0 ||
		result.Tricks[result.Winner] < 3 {
		t.Fatalf("result %+v", result)
	}
	<-m.Done()
}

// A player who leaves while the table waits is unseated: the next two are dealt against each
// other, not against a ghost whose turn it is forever.
func TestDuelLeaverBeforeTheDealIsUnseated(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "duel"})
	a := &sink{}
	pa := e.join(m, "ann", a)
	m.Leave(pa, a, protocol.LeaveLeft)
	e.step(m)
	b, c := &sink{}, &sink{}
	pb := e.join(m, "bob", b)
	pc := e.join(m, "cy", c)
	var mi game.Mirror
	feed(t, &mi, c.take(t))
	e.step(m)
	feed(t, &mi, c.take(t))
	table := mi.Public[uint32(duel.Table)]
	var turn uint32
	var phase string
	if err := protocol.Unmarshal([]byte(table[uint32(duel.KeyTurn)]), &turn); err != nil {
		t.Fatal(err)
	}
	if err := protocol.Unmarshal([]byte(table[uint32(duel.KeyPhase)]), &phase); err != nil {
		t.Fatal(err)
	}
	if phase != "playing" || (turn != pb && turn != pc) {
		t.Fatalf("after ann left: phase %q, turn pid %d (bob %d, cy %d)", phase, turn, pb, pc)
	}
	if _, ghost := mi.Public[pa]; ghost {
		t.Fatal("the leaver's entity is still on the table")
	}
	if h := hand(t, &mi, pc); len(h) != 5 {
		t.Fatalf("cy's hand %v", h)
	}
}

func TestArenaClampsAndNormalises(t *testing.T) {
	for _, c := range []struct {
		in     []byte
		dx, dy float64
		ok     bool
	}{
		{arena.EncodeInput(nil, 1, 0), 1, 0, true},
		{arena.EncodeInput(nil, 5, -7), 0.7071067811865475, -0.7071067811865475, true},
		{arena.EncodeInput(nil, 0.3, 0.4), 0.3, 0.4, true},
		{protocol.AppendString(nil, "x"), 0, 0, false},
		{[]byte{0x91, 0x01}, 0, 0, false},
		{[]byte{0x92, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1, 0x00}, 0, 0, false}, // NaN
	} {
		dx, dy, ok := arena.DecodeInput(c.in)
		if ok != c.ok || (ok && (abs(dx-c.dx) > 1e-9 || abs(dy-c.dy) > 1e-9)) {
			t.Errorf("DecodeInput(%x) = %v %v %v, want %v %v %v", c.in, dx, dy, ok, c.dx, c.dy, c.ok)
		}
	}
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	a := &sink{}
	pid := e.join(m, "ann", a)
	var mi game.Mirror
	feed(t, &mi, a.take(t))
	for seq := uint32(1); seq <= 300; seq++ {
		m.Input(pid, seq, 0, arena.EncodeInput(nil, -1, -1))
		e.step(m)
	}
	feed(t, &mi, a.take(t))
	var x, y float32
	protocol.Unmarshal([]byte(mi.Public[pid][0]), &x)
	protocol.Unmarshal([]byte(mi.Public[pid][1]), &y)
	if x != 0 || y != 0 {
		t.Fatalf("after 300 moves to the corner: %v, %v", x, y)
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
