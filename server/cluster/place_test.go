package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/server"
)

// Matches placed in a burst, between two heartbeats, spread over the instances by players:
// each placement counts its seats on the instance it chose until that instance's heartbeats
// show them, so the burst fills the idle instances evenly and the busy one (5 sessions of a
// capacity of 10) only once they have caught up with it. Place, which sees only the last
// heartbeats, puts the whole burst on one instance.
func TestPlaceSeatsSpreadsABurst(t *testing.T) {
	net, dir := NewMemoryNetwork(), NewMemoryDirectory(DirectoryConfig{})
	sub := memorySubstrate(net, dir)
	slow := func(c *BusConfig, _ *server.Config) { c.Heartbeat, c.Capacity = time.Hour, 10 }
	a := startInstance(t, "a", sub, slow)
	b := startInstance(t, "b", sub, slow)
	c := startInstance(t, "c", sub, slow)
	for range 5 {
		c.connect("busy")
	}
	waitNodes(t, 3, c, b, a)
	ctx := context.Background()
	old, _ := a.bus.Place(ctx)
	for range 11 {
		if again, _ := a.bus.Place(ctx); again.Node != old.Node {
			t.Fatalf("Place moved between heartbeats: %s then %s", old.Node, again.Node)
		}
	}
	got := map[string]int{}
	var order []string
	for range 12 {
		nl, err := a.bus.PlaceSeats(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		got[nl.Node]++
		order = append(order, nl.Node)
	}
	// Loads: a 0, b 0, c 0.5; each placement adds 0.2 where it goes (ties: this instance).
	if got["a"] != 5 || got["b"] != 5 || got["c"] != 2 {
		t.Fatalf("12 placements of 2 seats went %v (in order %v), want a 5, b 5, c 2", got, order)
	}
}
