package game_test

import (
	"context"
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/duel"
	"github.com/tickrelay/tickrelay/protocol"
)

// TestDuelRestoredPlaysOn: a duel checkpointed mid-game and restored elsewhere keeps the hands
// (private to each player), the turn and the lead, and ends exactly as the original does when
// both are played the same way.
func TestDuelRestoredPlaysOn(t *testing.T) {
	s := &cpSink{}
	a := newCPEnv(t, s)
	old := a.create(game.CreateOptions{Game: "duel", ID: "d1"})
	sa, sb := &sink{}, &sink{}
	pa, pb := a.join(old, "alice", sa), a.join(old, "bob", sb)
	a.step(old)
	// Checkpoints every second (10 ticks at 10 Hz): play one card, then step to the next one.
	hand := func(m *game.Match, pid uint32) []int64 {
		var h []int64
		m.Inspect(context.Background(), func(c *game.Ctx) {
			if err := protocol.Unmarshal([]byte(c.State().Get(game.EntityID(pid)).Field(duel.KeyHand).Append(nil)), &h); err != nil {
				t.Fatal(err)
			}
		})
		return h
	}
	turn := func(m *game.Match) uint32 {
		var p uint32
		m.Inspect(context.Background(), func(c *game.Ctx) { p = uint32(c.State().Get(duel.Table).Field(duel.KeyTurn).Int()) })
		return p
	}
	play := func(e *env, m *game.Match, seq uint32) {
		p := turn(m)
		m.Input(p, seq, 0, protocol.AppendUint(protocol.AppendArrayHeader(nil, 1), uint64(hand(m, p)[0])))
		e.step(m)
	}
	play(a, old, 1)
	for old.Info().Tick%10 != 0 {
		a.step(old)
	}
	cp := s.at(t, old.Info().Tick)
	b := newCPEnv(t, nil)
	nm, err := b.reg.Restore(cp.Data, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range []uint32{pa, pb} {
		if h, g := hand(old, pid), hand(nm, pid); len(h) == 0 || len(h) != len(g) || h[0] != g[0] {
			t.Fatalf("pid %d: hand %v, restored %v", pid, h, g)
		}
		if view(t, old, pid) != view(t, nm, pid) {
			t.Fatalf("pid %d sees another state after the restore", pid)
		}
	}
	// The players come back, then both matches are played to the end the same way.
	for pid, sk := range map[uint32]*sink{pa: sa, pb: sb} {
		nm.Sync(pid, sk, 2, 1, cp.Tick)
	}
	b.step(nm)
	for seq := uint32(2); seq <= 10; seq++ {
		play(a, old, seq)
		play(b, nm, seq)
		if turn(old) != turn(nm) {
			t.Fatalf("input %d: turn %d, restored %d", seq, turn(old), turn(nm))
		}
	}
	<-old.Done()
	<-nm.Done()
	eo, _ := a.reg.Ended("d1")
	en, _ := b.reg.Ended("d1")
	if eo.Reason != protocol.EndFinished || string(eo.Result) != string(en.Result) || eo.Reason != en.Reason {
		t.Fatalf("ended %v %x, restored %v %x", eo.Reason, eo.Result, en.Reason, en.Result)
	}
}
