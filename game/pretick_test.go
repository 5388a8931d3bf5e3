package game_test

import (
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// preSink queues an input from inside PreTick, the way the server's tick reader does.
type preSink struct {
	sink
	pid   uint32
	seq   uint32
	calls int
}

func (p *preSink) PreTick(m *game.Match) {
	p.calls++
	if p.pid != 0 {
		p.seq++
		if !m.Input(p.pid, p.seq, 0, input(1, 0)) {
			panic("input dropped")
		}
	}
}

// An input queued by PreTick on the match goroutine is applied in the same tick (acked by that
// tick's delta), and only members' sinks are called.
func TestPreTickInputAppliedInSameTick(t *testing.T) {
	e := newEnv(t)
	m := e.create(game.CreateOptions{Game: "arena"})
	a := &preSink{}
	a.pid = e.join(m, "ann", a)
	a.take(t)
	before := a.calls
	e.step(m)
	if a.calls != before+1 {
		t.Fatalf("PreTick called %d times in one tick, want 1", a.calls-before)
	}
	fs := a.take(t)
	if len(fs) != 1 || !fs[0].HasAck || fs[0].Ack != a.seq {
		t.Fatalf("want one delta acking %d (queued by PreTick in this tick), got %+v", a.seq, fs)
	}
	// After leaving, the sink is not called any more.
	m.Leave(a.pid, a, protocol.LeaveLeft)
	e.step(m)
	n := a.calls
	e.step(m)
	if a.calls != n {
		t.Fatalf("PreTick called after the member left")
	}
}
