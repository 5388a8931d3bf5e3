package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// JOIN is asynchronous: while a JOIN waits on a remote owner (its request delayed by the
// network), the session's read loop goes on answering: a PING sent after the JOIN gets its
// PONG before the JOINED.
func TestJoinDoesNotBlockTheReadLoop(t *testing.T) {
	net, dir := NewMemoryNetwork(), NewMemoryDirectory(DirectoryConfig{})
	sub := memorySubstrate(net, dir)
	a, b := startInstance(t, "a", sub), startInstance(t, "b", sub)
	waitNodes(t, 2, a, b)
	tok := a.guest("ann")
	cr := a.create(tok, map[string]any{"game": "arena"})
	net.SetFault(func(from, channel string, msg []byte) Fault {
		if k, err := peekKind(msg); err == nil && k == kJoin && strings.Contains(channel, ":{n:a}") {
			return Fault{Delay: 500 * time.Millisecond}
		}
		return Fault{}
	})
	bob := b.connect("bob")
	bob.send(protocol.ClientMsg{Op: protocol.OpJoin, Req: 1, Match: cr.Match.ID})
	bob.send(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 7)})
	if m := bob.next(); m.Op != protocol.OpPong {
		t.Fatalf("first frame after JOIN+PING: op %d, want the PONG (the read loop waited on the join)", m.Op)
	}
	if m := bob.expect(protocol.OpJoined); m.Req != 1 {
		t.Fatalf("JOINED answers %d", m.Req)
	}
}

// /healthz says whether the bus works: degraded while the broker is cut off, ok again after.
func TestHealthzReportsTheBus(t *testing.T) {
	net, dir := NewMemoryNetwork(), NewMemoryDirectory(DirectoryConfig{})
	brokers := map[string]*MemoryBroker{}
	sub := substrate{
		broker:    func(node string) Broker { brokers[node] = net.Broker(node, nil); return brokers[node] },
		directory: func(string) Directory { return dir },
	}
	a := startInstance(t, "a", sub)
	health := func() string {
		var h struct{ Status, Bus string }
		if st := a.do("GET", "/healthz", "", nil, &h); st != 200 || h.Status != "ok" {
			t.Fatalf("/healthz %d %+v", st, h)
		}
		return h.Bus
	}
	if h := health(); h != "ok" {
		t.Fatalf("bus %q", h)
	}
	brokers["a"].Cut(errDead)
	if h := health(); h != "degraded" {
		t.Fatalf("bus %q while cut off", h)
	}
	brokers["a"].Restore()
	if h := health(); h != "ok" {
		t.Fatalf("bus %q after restore", h)
	}
}
