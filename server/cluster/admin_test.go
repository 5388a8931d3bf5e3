package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// Operator requests reach another instance's AdminHandler through its node channel and come
// back answered (bytes or the handler's error code); an instance without a handler refuses.
func TestAdminRequestAcrossInstances(t *testing.T) {
	net := NewMemoryNetwork()
	dir := NewMemoryDirectory(DirectoryConfig{})
	sub := memorySubstrate(net, dir)
	a := startInstance(t, "node-a", sub, func(c *BusConfig, _ *server.Config) { fastBus(c) })
	b := startInstance(t, "node-b", sub, func(c *BusConfig, _ *server.Config) { fastBus(c) })
	waitNodes(t, 2, a, b)
	ctx := ctx5(t)

	if _, err := a.bus.Admin(ctx, "node-b", "m1", "end", []byte(`{}`)); !errors.Is(err, server.ErrUnavailable) && server.CodeOf(err) != protocol.ErrCodeUnavailable {
		t.Fatalf("no handler on b: %v", err)
	}
	got := make(chan string, 1)
	b.bus.HandleAdmin(func(_ context.Context, op string, args []byte) ([]byte, error) {
		got <- op + " " + string(args)
		if op == "fail" {
			return nil, &server.CodeError{Code: protocol.ErrCodeNotFound, Msg: "no such match"}
		}
		return []byte(`{"ok":true}`), nil
	})
	out, err := a.bus.Admin(ctx, "node-b", "m1", "end", []byte(`{"match":"m1"}`))
	if err != nil || string(out) != `{"ok":true}` {
		t.Fatalf("end: %q %v", out, err)
	}
	if g := <-got; g != `end {"match":"m1"}` {
		t.Fatalf("handler saw %q", g)
	}
	_, err = a.bus.Admin(ctx, "node-b", "m1", "fail", nil)
	if server.CodeOf(err) != protocol.ErrCodeNotFound || !strings.Contains(err.Error(), "no such match") {
		t.Fatalf("fail: %v (code %v)", err, server.CodeOf(err))
	}
	<-got
	// Local requests go straight to the local handler (none on a).
	if _, err := a.bus.Admin(ctx, "node-a", "", "drain", nil); !errors.Is(err, ErrNoAdmin) {
		t.Fatalf("local without handler: %v", err)
	}
	// The heartbeats carry the instances' figures.
	a.bus.heartbeat()
	b.bus.heartbeat()
	var seen bool
	for _, n := range b.bus.Nodes() {
		if n.Name == "node-a" {
			seen = !n.Sampled.IsZero() && n.Memory > 0
		}
	}
	if !seen {
		t.Fatalf("node-a's figures missing from the registry: %+v", b.bus.Nodes())
	}
}
