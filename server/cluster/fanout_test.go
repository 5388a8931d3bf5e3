package cluster

import (
	"strings"
	"sync"
	"testing"

	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/protocol"
)

// Three players on b in a match owned by a: each tick is ONE publish on the match's channel,
// carrying the shared bytes once and all three tails (not one publish per player).
func TestOnePublishPerTickForAllRemotePlayers(t *testing.T) {
	net, dir := NewMemoryNetwork(), NewMemoryDirectory(DirectoryConfig{})
	sub := memorySubstrate(net, dir)
	a, b := startInstance(t, "a", sub), startInstance(t, "b", sub)
	waitNodes(t, 2, a, b)
	tok := a.guest("ann")
	cr := a.create(tok, map[string]any{"game": "arena"})
	var mu sync.Mutex
	perTick := map[uint32]int{} // tick → publishes carrying it
	tails := map[uint32]int{}
	net.SetFault(func(from, channel string, msg []byte) Fault {
		if from != "a" || !strings.Contains(channel, ":{m:") {
			return Fault{}
		}
		if k, err := peekKind(msg); err == nil && k == kTick {
			var tm tickMsg
			if decodeTick(msg, &tm) == nil {
				if _, tick, _, ok := deltaHead(tm.Shared); ok {
					mu.Lock()
					perTick[tick]++
					tails[tick] = len(tm.Tails)
					mu.Unlock()
				}
			}
		}
		return Fault{}
	})
	players := []*client{b.connect("p1"), b.connect("p2"), b.connect("p3")}
	for _, p := range players {
		p.join(cr.Match.ID, "")
	}
	for seq := uint32(1); seq <= 10; seq++ {
		for _, p := range players {
			p.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: seq, Payload: arena.EncodeInput(nil, 1, 0)})
		}
		for _, p := range players {
			for {
				m := p.next()
				if m.Op == protocol.OpDelta && m.HasAck && m.Ack >= seq {
					break
				}
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	full := 0
	for tick, n := range perTick {
		if n != 1 {
			t.Fatalf("tick %d published %d times", tick, n)
		}
		if tails[tick] == 3 {
			full++
		}
	}
	if full < 10 {
		t.Fatalf("only %d ticks carried all three tails in one publish", full)
	}
	t.Logf("%d ticks, each one publish; %d of them carried the 3 players' tails", len(perTick), full)
}
