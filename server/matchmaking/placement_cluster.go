package matchmaking

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickrelay/tickrelay/server"
)

// ClusterHost is what the cluster placer needs beyond Host: the least loaded instance, a
// session token to act for a player there, and matches wherever they run.
type ClusterHost interface {
	Host
	PlaceSeats(ctx context.Context, seats int) (server.NodeLoad, error)
	IssueSession(player, name string) (string, error)
	Locate(ctx context.Context, id string) (server.MatchHandle, error)
}

// matchAt is a ClusterHost that makes the handle of a match it knows the place of
// (*server.Server).
type matchAt interface {
	MatchAt(ctx context.Context, id, node, address string) (server.MatchHandle, error)
}

// ClusterPlacer places each new match on the least loaded instance of the cluster (here when
// this one is): there, through that instance's POST /v1/matches (as the group's first player,
// which reserves that player's seat), then every other seat through the cluster bus, all or
// none. Backfill stays on this instance's matches.
type ClusterPlacer struct {
	*LocalPlacer
	host ClusterHost
	hc   *http.Client
	// phase is where the steps of a remote placement are timed (nil: nowhere): create (the
	// other instance's POST /v1/matches), locate, reserve (the other seats over the bus).
	phase *prometheus.HistogramVec
}

func (p *ClusterPlacer) observe(q *Queue, phase string, since time.Time) {
	if p.phase != nil {
		p.phase.WithLabelValues(q.Name, phase).Observe(time.Since(since).Seconds())
	}
}

// NewClusterPlacer returns a placer over host.
func NewClusterPlacer(host ClusterHost) *ClusterPlacer {
	// Placements run many at once (Config.MaxPlacements): keep that many connections to each
	// instance alive (net/http keeps 2 by default, and opens a new one for every other).
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	return &ClusterPlacer{LocalPlacer: NewLocalPlacer(host), host: host, hc: &http.Client{Timeout: 5 * time.Second, Transport: tr}}
}

// placedHeader marks a creation forwarded by another instance (server/placement.go): the
// receiver creates the match itself instead of placing it again.
const placedHeader = "X-Tickrelay-Placed"

// Place implements Placer.
func (p *ClusterPlacer) Place(ctx context.Context, q *Queue, g Group) (Placement, error) {
	nl, err := p.host.PlaceSeats(ctx, g.Players)
	if err != nil || nl.Node == p.host.NodeID() || nl.Address == "" {
		return p.LocalPlacer.Place(ctx, q, g)
	}
	players, teams := seatOrder(g)
	first := g.Tickets[0].Members[0]
	for _, t := range g.Tickets {
		for _, m := range t.Members {
			if m.ID == players[0] {
				first = m
			}
		}
	}
	tok, err := p.host.IssueSession(first.ID, first.Name)
	if err != nil {
		return Placement{}, err
	}
	label := matchLabel(q, g) // queue, region, skill: what the open-match board offers
	body, _ := json.Marshal(map[string]any{"game": q.Game, "params": q.Params, "private": true, "max_players": q.Seats, "label": label})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server.HTTPAddress(nl.Address)+"/v1/matches", bytes.NewReader(body))
	if err != nil {
		return Placement{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(placedHeader, p.host.NodeID())
	creating := time.Now()
	resp, err := p.hc.Do(req)
	if err != nil {
		// Unreachable: this instance takes the match rather than fail the players.
		return p.LocalPlacer.Place(ctx, q, g)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return Placement{}, fmt.Errorf("create on %s: HTTP %d: %s", nl.Node, resp.StatusCode, b)
	}
	var created struct {
		Match struct {
			ID string `json:"id"`
		} `json:"match"`
		Reservation server.Reservation `json:"reservation"`
	}
	if err := json.Unmarshal(b, &created); err != nil {
		return Placement{}, fmt.Errorf("create on %s: %w", nl.Node, err)
	}
	p.observe(q, "place_create", creating)
	locating := time.Now()
	var m server.MatchHandle
	if at, ok := p.host.(matchAt); ok { // no directory lookup: the match is where it was made
		m, err = at.MatchAt(ctx, created.Match.ID, nl.Node, nl.Address)
	} else {
		m, err = p.host.Locate(ctx, created.Match.ID)
	}
	p.observe(q, "place_locate", locating)
	if err != nil {
		return Placement{}, fmt.Errorf("locate %s on %s: %w", created.Match.ID, nl.Node, err)
	}
	r0 := created.Reservation
	seats := map[string]Seat{players[0]: {Player: players[0], MatchID: r0.MatchID, Address: r0.Address, Ticket: r0.Ticket, Seat: r0.Seat, Team: teams[players[0]], ExpiresAt: r0.ExpiresAt}}
	type res struct {
		player string
		r      server.Reservation
		err    error
	}
	ch := make(chan res, len(players))
	reserving := time.Now()
	for i, pl := range players[1:] {
		go func() {
			r, err := p.host.ReserveSeat(ctx, m, pl, "", i+2)
			ch <- res{pl, r, err}
		}()
	}
	var failed error
	for range players[1:] {
		r := <-ch
		if r.err != nil {
			failed = fmt.Errorf("reserve %s on %s: %w", r.player, nl.Node, r.err)
			continue
		}
		seats[r.player] = Seat{Player: r.player, MatchID: r.r.MatchID, Address: r.r.Address, Ticket: r.r.Ticket, Seat: r.r.Seat, Team: teams[r.player], ExpiresAt: r.r.ExpiresAt}
	}
	p.observe(q, "place_reserve", reserving)
	pl := Placement{Match: created.Match.ID, Node: nl.Node, Seats: seats}
	if failed != nil {
		p.release(m, pl) // the empty private match ends by itself once its reservations lapse
		return Placement{}, failed
	}
	return pl, nil
}

func (p *ClusterPlacer) release(m server.MatchHandle, pl Placement) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for player := range pl.Seats {
		_ = p.host.ReleaseSeat(ctx, m, player)
	}
}

// Abandon implements Placer (a match on another instance: its seats are released).
func (p *ClusterPlacer) Abandon(ctx context.Context, q *Queue, pl Placement, backfill bool) {
	if pl.Node == p.host.NodeID() {
		p.LocalPlacer.Abandon(ctx, q, pl, backfill)
		return
	}
	if m, err := p.host.Locate(ctx, pl.Match); err == nil {
		p.release(m, pl)
	}
}

// seatOrder is the group's players in seat order (team by team) and their team numbers.
func seatOrder(g Group) ([]string, map[string]int) {
	var players []string
	teams := map[string]int{}
	if g.Teams != nil {
		for i, team := range g.Teams {
			for _, t := range team {
				for _, m := range t.Members {
					players = append(players, m.ID)
					teams[m.ID] = i + 1
				}
			}
		}
		return players, teams
	}
	for _, t := range g.Tickets {
		for _, m := range t.Members {
			players = append(players, m.ID)
		}
	}
	return players, teams
}
