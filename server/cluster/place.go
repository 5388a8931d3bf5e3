package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/tickrelay/tickrelay/server"
)

// placedSeats counts the seats this instance placed on each node lately: a node's load is its
// heartbeat's (sessions per capacity, at most one heartbeat old) plus the seats placed on it
// since, until its heartbeats can show them (placedFor). mu guards all.
type placedSeats struct {
	mu    sync.Mutex
	seats map[string][]placedAt
}

type placedAt struct {
	at    time.Time
	seats int
}

// placedFor is how long placed seats count on top of a node's heartbeats: the players join
// within the reservation's lifetime and are sessions at the node's next heartbeat; until then
// (or forever, for players who never join) the placement itself is the load.
func (b *Bus) placedFor() time.Duration { return 2*b.cfg.Heartbeat + 15*time.Second }

// pending is node's seats placed within placedFor of now (older ones are forgotten).
func (p *placedSeats) pending(node string, now time.Time, keep time.Duration) int {
	ps := p.seats[node]
	i := 0
	for i < len(ps) && now.Sub(ps[i].at) > keep {
		i++
	}
	ps = ps[i:]
	if len(ps) == 0 {
		delete(p.seats, node)
	} else {
		p.seats[node] = ps
	}
	n := 0
	for _, x := range ps {
		n += x.seats
	}
	return n
}

// PlaceSeats implements server.SeatPlacer: the live instance with the least load counting the
// seats placed on it lately (this one on a tie), where the seats are then counted.
func (b *Bus) PlaceSeats(_ context.Context, seats int) (server.NodeLoad, error) {
	now := time.Now()
	keep := b.placedFor()
	capacity := float64(b.cfg.Capacity)
	b.placed.mu.Lock()
	defer b.placed.mu.Unlock()
	if b.placed.seats == nil {
		b.placed.seats = map[string][]placedAt{}
	}
	best := server.NodeLoad{Node: b.node, Address: b.env.PublicURL, Load: b.load() + float64(b.placed.pending(b.node, now, keep))/capacity}
	if ns := b.nodes.Load(); ns != nil {
		for _, n := range *ns {
			if n.Name == b.node || n.Address == "" {
				continue
			}
			// Another node's capacity is not in its heartbeat: its load is sessions per its
			// capacity, and seats count by this node's.
			l := n.Load + float64(b.placed.pending(n.Name, now, keep))/capacity
			if l < best.Load {
				best = server.NodeLoad{Node: n.Name, Address: n.Address, Load: l}
			}
		}
	}
	b.placed.seats[best.Node] = append(b.placed.seats[best.Node], placedAt{now, seats})
	return best, nil
}
