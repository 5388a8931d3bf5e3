package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tickrelay/tickrelay/server/auth"
)

// Reservations holds seats and issues and redeems their single-use join tickets, for the HTTP
// API (POST /v1/matches, POST /v1/matches/{id}/join), the WebSocket JOIN and the matchmaker.
// A reservation names the match's owner, so clients that can reach it may connect there; its
// ticket works on any instance: with a cluster bus it is used once across all of them (the
// bus's TicketLedger), not just once per process. Safe for concurrent use.
type Reservations struct {
	auth    *auth.Authority
	bus     Bus
	hold    time.Duration // how long a seat is held (Config.ReservationTTL); 0: the ticket's window
	quota   *holdQuota    // live reservations per user (nil: no cap)
	limited func()        // counts a refusal by quota
}

// Reservation is a held seat and the ticket that takes it.
type Reservation struct {
	MatchID   string    `json:"match_id"`
	Address   string    `json:"address"` // the owner's WebSocket URL ("" when unknown: use the instance you asked)
	Owner     Owner     `json:"owner"`
	Ticket    string    `json:"ticket"`
	Seat      int       `json:"seat,omitempty"` // the caller's slot number (the matchmaker's), 0: none
	ExpiresAt time.Time `json:"expires_at"`
}

// NewReservations returns the service over an authority and a bus.
func NewReservations(a *auth.Authority, bus Bus) *Reservations {
	return &Reservations{auth: a, bus: bus}
}

// Reserve holds a seat in match matchID (wherever it runs) for playerID for the ticket's
// lifetime and issues the ticket.
func (r *Reservations) Reserve(ctx context.Context, matchID, playerID string) (Reservation, error) {
	m, err := r.bus.Locate(ctx, matchID)
	if err != nil {
		return Reservation{}, err
	}
	return r.ReserveIn(ctx, m, playerID, 0)
}

// ReserveIn is Reserve for a match already located. seat is the caller's own slot number for
// the player, written in the ticket and the reservation as is (the matchmaker's place in its
// team order; 0 for the HTTP API): the match does not number seats — pids follow join order —
// and holds the reservation by player, which is what a JOIN with the ticket redeems.
func (r *Reservations) ReserveIn(ctx context.Context, m MatchHandle, playerID string, seat int) (Reservation, error) {
	return r.reserveIn(ctx, m, playerID, seat, true)
}

// reserveIn is ReserveIn; counted says whether the reservation counts against the player's
// live reservations (a creator's seat in its new match does not: MaxMatchesPerUser bounds those).
func (r *Reservations) reserveIn(ctx context.Context, m MatchHandle, playerID string, seat int, counted bool) (Reservation, error) {
	hold := r.hold
	if hold <= 0 {
		hold = r.auth.JoinWindow()
	}
	if r.quota != nil && counted {
		now := time.Now()
		if !r.quota.take(playerID, m.ID(), now, now.Add(hold)) {
			if r.limited != nil {
				r.limited()
			}
			return Reservation{}, fmt.Errorf("%w: %d live seat reservations already held: join one or let them expire", ErrRateLimited, r.quota.max)
		}
	}
	if err := m.Reserve(ctx, playerID, hold); err != nil {
		r.joined(playerID, m.ID())
		return Reservation{}, err
	}
	tok, exp, err := r.auth.IssueJoin(playerID, m.ID(), seat)
	if err != nil {
		return Reservation{}, err
	}
	owner := m.Owner()
	res := Reservation{MatchID: m.ID(), Owner: owner, Ticket: tok, Seat: seat, ExpiresAt: exp.UTC()}
	if owner.Address != "" {
		res.Address = WSAddress(owner.Address)
	}
	return res, nil
}

// joined forgets playerID's reservation of match in the per-user count (the seat was taken, or
// the reservation failed).
func (r *Reservations) joined(playerID, match string) {
	if r.quota != nil {
		r.quota.drop(playerID, match)
	}
}

// Redeem verifies ticket for playerID and uses it up (everywhere, with a cluster bus). A
// ticket issued to another player, or for another match than matchID ("": any), is refused
// without being used (the error wraps auth.ErrWrongMatch for the latter).
func (r *Reservations) Redeem(ctx context.Context, ticket, playerID, matchID string) (auth.Join, error) {
	j, err := r.auth.VerifyJoinForMatch(ticket, playerID, matchID)
	if err != nil {
		return auth.Join{}, err
	}
	if l := r.bus.Tickets(); l != nil {
		ttl := time.Until(j.ExpiresAt) + r.auth.JoinWindow() // outlives every instance's leeway
		first, err := l.UseOnce(ctx, "ticket:"+j.ID, ttl)
		if err != nil {
			return auth.Join{}, fmt.Errorf("%w: ticket ledger: %v", ErrUnavailable, err)
		}
		if !first {
			return auth.Join{}, fmt.Errorf("%w: already used", auth.ErrInvalidToken)
		}
	}
	return j, nil
}

// WSAddress turns a public base URL (http(s):// or ws(s)://) into its WebSocket endpoint URL.
func WSAddress(base string) string {
	base = strings.TrimRight(base, "/")
	switch {
	case strings.HasPrefix(base, "http://"):
		base = "ws://" + strings.TrimPrefix(base, "http://")
	case strings.HasPrefix(base, "https://"):
		base = "wss://" + strings.TrimPrefix(base, "https://")
	}
	return base + "/ws"
}
