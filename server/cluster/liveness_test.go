package cluster

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// mortalDir is a directory client that stops working when its instance "dies" (every call
// fails, as for a process that was killed: its heartbeat and leases are no longer refreshed).
type mortalDir struct {
	Directory
	dead atomic.Bool
}

var errDead = errors.New("instance is dead")

func (d *mortalDir) Heartbeat(ctx context.Context, n NodeInfo) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Directory.Heartbeat(ctx, n)
}

func (d *mortalDir) Refresh(ctx context.Context, node string, es []MatchEntry) ([]string, error) {
	if d.dead.Load() {
		return nil, errDead
	}
	return d.Directory.Refresh(ctx, node, es)
}

func (d *mortalDir) Release(ctx context.Context, id, node string, epoch uint32) error {
	if d.dead.Load() {
		return errDead
	}
	return d.Directory.Release(ctx, id, node, epoch)
}

// An instance that dies: the players relayed to its matches from other instances get END
// with reason LOST within 10 s, and no join is routed to it once its TTL has passed (+1 s).
func TestOwnerLostEndsRelayedMatches(t *testing.T) {
	net, dir := NewMemoryNetwork(), NewMemoryDirectory(DirectoryConfig{})
	brokers := map[string]*MemoryBroker{}
	dirs := map[string]*mortalDir{}
	sub := substrate{
		broker: func(node string) Broker {
			brokers[node] = net.Broker(node, nil)
			return brokers[node]
		},
		directory: func(node string) Directory {
			dirs[node] = &mortalDir{Directory: dir}
			return dirs[node]
		},
	}
	opt := func(bc *BusConfig, _ *server.Config) { fastBus(bc) }
	a, b := startInstance(t, "a", sub, opt), startInstance(t, "b", sub, opt)
	waitNodes(t, 2, a, b)
	tok := a.guest("ann")
	cr := a.create(tok, map[string]any{"game": "arena"})
	bob := b.connect("bob")
	bob.join(cr.Match.ID, "")

	died := time.Now()
	dirs["a"].dead.Store(true)
	brokers["a"].Cut(errDead)
	end := bob.expect(protocol.OpEnd)
	took := time.Since(died)
	if end.Reason != protocol.EndLost {
		t.Fatalf("END reason %d, want LOST", end.Reason)
	}
	if took > 10*time.Second {
		t.Fatalf("END LOST after %v, want ≤ 10 s", took)
	}
	t.Logf("relayed player got END LOST %v after its owner died", took.Round(time.Millisecond))
	// TTL + 1 s after the death, no join may be routed to it.
	if wait := DefaultNodeTTL + time.Second - time.Since(died); wait > 0 {
		time.Sleep(wait) // the deadline under test is wall-clock time since the death
	}
	if _, err := b.bus.Locate(context.Background(), cr.Match.ID); !errors.Is(err, server.ErrNoMatch) {
		t.Fatalf("Locate %v after the owner died: %v, want ErrNoMatch", time.Since(died).Round(time.Millisecond), err)
	}
	ns, err := dir.Nodes(context.Background())
	must(t, err)
	if len(ns) != 1 || ns[0].Name != "b" {
		t.Fatalf("live nodes %+v", ns)
	}
	dirs["a"].dead.Store(false) // let a shut down cleanly
	brokers["a"].Restore()
}

// An instance with relayed players dies: the owner treats them as dropped connections (their
// seats kept for the reconnect grace), and the players on the owner see them leave as DROPPED.
func TestRelayInstanceLostDropsItsPlayers(t *testing.T) {
	net, dir := NewMemoryNetwork(), NewMemoryDirectory(DirectoryConfig{})
	brokers := map[string]*MemoryBroker{}
	dirs := map[string]*mortalDir{}
	sub := substrate{
		broker:    func(node string) Broker { brokers[node] = net.Broker(node, nil); return brokers[node] },
		directory: func(node string) Directory { dirs[node] = &mortalDir{Directory: dir}; return dirs[node] },
	}
	opt := func(bc *BusConfig, _ *server.Config) { fastBus(bc) }
	a, b := startInstance(t, "a", sub, opt), startInstance(t, "b", sub, opt)
	waitNodes(t, 2, a, b)
	tok := a.guest("ann")
	cr := a.create(tok, map[string]any{"game": "arena"})
	ann := a.dialToken(tok)
	ann.join("", cr.Reservation.Ticket)
	bob := b.connect("bob")
	jb := bob.join(cr.Match.ID, "")
	died := time.Now()
	dirs["b"].dead.Store(true)
	brokers["b"].Cut(errDead)
	for {
		m := ann.next()
		if m.Op != protocol.OpDelta || m.Events == nil {
			continue
		}
		v, err := protocol.MsgpackToJSON(m.Events)
		must(t, err)
		for _, e := range v.([]any) {
			ev := e.([]any)
			if uint32(ev[0].(float64)) == uint32(protocol.EventLeave) && uint32(ev[1].(float64)) == jb.PID {
				if r := protocol.LeaveReason(ev[2].(float64)); r != protocol.LeaveDropped {
					t.Fatalf("bob left with reason %d, want DROPPED", r)
				}
				t.Logf("the owner dropped the dead instance's player %v after it died", time.Since(died).Round(time.Millisecond))
				dirs["b"].dead.Store(false)
				brokers["b"].Restore()
				return
			}
		}
	}
}
