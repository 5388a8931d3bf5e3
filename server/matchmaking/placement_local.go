package matchmaking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// Host is what the local placer needs of a server (*server.Server implements it): creating a
// match here and reserving seats in it through the server's reservation path.
type Host interface {
	CreateMatch(ctx context.Context, o game.CreateOptions) (*game.Match, error)
	Owner() server.Owner
	Registry() *game.Registry
	ReserveSeat(ctx context.Context, m server.MatchHandle, player, address string, seat int) (server.Reservation, error)
	ReleaseSeat(ctx context.Context, m server.MatchHandle, player string) error
	JoinWindow() time.Duration
	NodeID() string
}

// LocalPlacer places every match on this instance (the single-instance default). It remembers
// the matches it made for backfill queues, to offer their free seats.
type LocalPlacer struct {
	host Host

	mu      sync.Mutex
	tracked map[string]*tracked // match id → what the matchmaker put in it
}

type tracked struct {
	queue    string
	region   string
	skillSum float64
	n        int
	pending  map[string]time.Time // reserved players → when their reservation lapses
}

// NewLocalPlacer returns a placer over host.
func NewLocalPlacer(host Host) *LocalPlacer {
	return &LocalPlacer{host: host, tracked: map[string]*tracked{}}
}

// Place implements Placer.
func (p *LocalPlacer) Place(ctx context.Context, q *Queue, g Group) (Placement, error) {
	var params []byte
	if len(q.Params) > 0 {
		var v any
		if err := json.Unmarshal(q.Params, &v); err != nil {
			return Placement{}, fmt.Errorf("queue %s params: %w", q.Name, err)
		}
		var err error
		if params, err = protocol.Marshal(v); err != nil {
			return Placement{}, fmt.Errorf("queue %s params: %w", q.Name, err)
		}
	}
	label := matchLabel(q, g) // queue, region, skill: what the open-match board offers
	m, err := p.host.CreateMatch(ctx, game.CreateOptions{Game: q.Game, Params: params, Private: true, MaxPlayers: q.Seats, Label: label})
	if err != nil {
		return Placement{}, err
	}
	// Seats in team order; team numbers 1-based (0 without teams).
	type want struct {
		player string
		team   int
	}
	var wants []want
	var skill float64
	if g.Teams != nil {
		for i, team := range g.Teams {
			for _, t := range team {
				for _, mem := range t.Members {
					wants = append(wants, want{mem.ID, i + 1})
				}
			}
		}
	} else {
		for _, t := range g.Tickets {
			for _, mem := range t.Members {
				wants = append(wants, want{mem.ID, 0})
			}
		}
	}
	for _, t := range g.Tickets {
		skill += t.Skill * float64(t.Size())
	}
	players := make([]string, len(wants))
	teams := map[string]int{}
	for i, w := range wants {
		players[i] = w.player
		teams[w.player] = w.team
	}
	seats, err := p.reserveAll(ctx, m, players, true)
	if err != nil {
		m.Stop(protocol.EndStopped)
		return Placement{}, err
	}
	for pl, s := range seats {
		s.Team = teams[pl]
		seats[pl] = s
	}
	if q.Backfill {
		p.mu.Lock()
		tr := &tracked{queue: q.Name, region: g.Region, skillSum: skill, n: len(players), pending: map[string]time.Time{}}
		lapse := time.Now().Add(p.host.JoinWindow())
		for _, pl := range players {
			tr.pending[pl] = lapse
		}
		p.tracked[m.ID()] = tr
		p.mu.Unlock()
	}
	return Placement{Match: m.ID(), Node: p.host.NodeID(), Seats: seats}, nil
}

// reserveAll reserves every player's seat in m at once (the requests reach the match together
// and are answered at its next tick); if one fails, the others are released.
func (p *LocalPlacer) reserveAll(ctx context.Context, gm *game.Match, players []string, numbered bool) (map[string]Seat, error) {
	m := server.LocalHandle(gm, p.host.Owner())
	type res struct {
		i   int
		r   server.Reservation
		err error
	}
	ch := make(chan res, len(players))
	for i, pl := range players {
		seat := 0
		if numbered {
			seat = i + 1
		}
		go func() {
			r, err := p.host.ReserveSeat(ctx, m, pl, "", seat)
			ch <- res{i, r, err}
		}()
	}
	seats := make(map[string]Seat, len(players))
	var errs []error
	for range players {
		r := <-ch
		if r.err != nil {
			errs = append(errs, fmt.Errorf("reserve %s: %w", players[r.i], r.err))
			continue
		}
		seats[players[r.i]] = Seat{Player: players[r.i], MatchID: r.r.MatchID, Address: r.r.Address, Ticket: r.r.Ticket, Seat: r.r.Seat, ExpiresAt: r.r.ExpiresAt}
	}
	if len(errs) > 0 {
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for pl := range seats {
			_ = p.host.ReleaseSeat(rctx, m, pl)
		}
		return nil, errors.Join(errs...)
	}
	return seats, nil
}

// Backfill implements Placer.
func (p *LocalPlacer) Backfill(ctx context.Context, q *Queue, match string, tickets []*Ticket) (Placement, error) {
	m, ok := p.host.Registry().Get(match)
	if !ok {
		p.forget(match)
		return Placement{}, fmt.Errorf("backfill %s: %w", match, game.ErrMatchEnded)
	}
	var players []string
	var skill float64
	for _, t := range tickets {
		for _, mem := range t.Members {
			players = append(players, mem.ID)
		}
		skill += t.Skill * float64(t.Size())
	}
	seats, err := p.reserveAll(ctx, m, players, false)
	if err != nil {
		return Placement{}, err
	}
	p.mu.Lock()
	if tr := p.tracked[match]; tr != nil {
		tr.skillSum += skill
		tr.n += len(players)
		lapse := time.Now().Add(p.host.JoinWindow())
		for _, pl := range players {
			tr.pending[pl] = lapse
		}
	}
	p.mu.Unlock()
	return Placement{Match: match, Node: p.host.NodeID(), Seats: seats}, nil
}

func (p *LocalPlacer) forget(match string) {
	p.mu.Lock()
	delete(p.tracked, match)
	p.mu.Unlock()
}

// Open implements Placer: the free seats of this queue's running matches, counting seats
// reserved by the matchmaker whose players have not joined yet as taken.
func (p *LocalPlacer) Open(q *Queue, now time.Time) []Open {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Open
	for id, tr := range p.tracked {
		if tr.queue != q.Name {
			continue
		}
		m, ok := p.host.Registry().Get(id)
		info := game.Info{}
		if ok {
			info = m.Info()
		}
		if !ok || info.Ended {
			delete(p.tracked, id)
			continue
		}
		in := make(map[string]bool, len(info.Members))
		for _, mem := range info.Members {
			in[mem.UserID] = true
		}
		pending := 0
		for pl, lapse := range tr.pending {
			switch {
			case in[pl] || now.After(lapse):
				delete(tr.pending, pl)
			default:
				pending++
			}
		}
		free := info.MaxPlayers - len(info.Members) - pending
		if free > 0 && tr.n > 0 {
			out = append(out, Open{ID: id, Free: free, Skill: tr.skillSum / float64(tr.n), Region: tr.region})
		}
	}
	return out
}

// Abandon implements Placer.
func (p *LocalPlacer) Abandon(ctx context.Context, q *Queue, pl Placement, backfill bool) {
	m, ok := p.host.Registry().Get(pl.Match)
	if !ok {
		return
	}
	if !backfill {
		p.forget(pl.Match)
		m.Stop(protocol.EndStopped)
		return
	}
	h := server.LocalHandle(m, p.host.Owner())
	for player := range pl.Seats {
		_ = p.host.ReleaseSeat(ctx, h, player)
	}
}
