package server

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server/auth"
)

// This file holds the server's extension points for packages built on it (server/matchmaking,
// server/cluster): they may import server, never the reverse.

// ReserveSeat holds a seat in m for player and issues the join ticket (see Reservations). The
// reservation's address names the owner's WebSocket URL when the owner has a public URL, else
// address ("" leaves it for the caller to fill in); seat is the number written in the ticket
// (0: the next one after the players already in the match).
func (srv *Server) ReserveSeat(ctx context.Context, m MatchHandle, player, address string, seat int) (Reservation, error) {
	res, err := srv.res.ReserveIn(ctx, m, player, seat)
	if err != nil {
		return Reservation{}, err
	}
	if res.Address == "" {
		res.Address = address
	}
	return res, nil
}

// ReleaseSeat gives back a seat ReserveSeat held for player (a reservation expiring now), for
// callers that reserve several seats all or none. A seat already taken by a JOIN stays taken.
func (srv *Server) ReleaseSeat(ctx context.Context, m MatchHandle, player string) error {
	return m.Reserve(ctx, player, 0)
}

// JoinWindow is how long a reservation's ticket is valid.
func (srv *Server) JoinWindow() time.Duration { return srv.auth.JoinWindow() }

// Locate finds a match through the bus (here or on another instance).
func (srv *Server) Locate(ctx context.Context, id string) (MatchHandle, error) {
	return srv.bus.Locate(ctx, id)
}

// MatchAt is the handle of match id known to run on node (at address), without asking the
// cluster's directory where it is: a placement that has just created it there knows. A bus that
// cannot make one locates the match.
func (srv *Server) MatchAt(ctx context.Context, id, node, address string) (MatchHandle, error) {
	if b, ok := srv.bus.(interface {
		HandleAt(id, node, address string) MatchHandle
	}); ok {
		return b.HandleAt(id, node, address), nil
	}
	return srv.bus.Locate(ctx, id)
}

// WSAddress is the WebSocket URL of this instance as seen by the client of r (--public-url when
// set, else from the request's Host).
func (srv *Server) WSAddress(r *http.Request) string { return srv.wsAddress(r) }

// Metrics is the registry served at /metrics, for the collectors of packages built on the server.
func (srv *Server) Metrics() prometheus.Registerer { return srv.metrics.reg }

// Owner names this instance (its node and public URL) for the handles of its local matches.
func (srv *Server) Owner() Owner { return srv.owner() }

// PlaceNode is where a new match should run: this instance, or the least loaded live one of the
// cluster (from the heartbeats).
func (srv *Server) PlaceNode(ctx context.Context) (NodeLoad, error) { return srv.bus.Place(ctx) }

// PlaceSeats is PlaceNode for a match of seats players that will be created there: a cluster
// bus counts them on that instance until its heartbeats do (SeatPlacer).
func (srv *Server) PlaceSeats(ctx context.Context, seats int) (NodeLoad, error) {
	if sp, ok := srv.bus.(SeatPlacer); ok {
		return sp.PlaceSeats(ctx, seats)
	}
	return srv.bus.Place(ctx)
}

// IssueSession signs a session token for player, for server-side callers that act for a
// player on another instance (the matchmaker creating a match there).
func (srv *Server) IssueSession(player, name string) (string, error) {
	tok, _, err := srv.auth.IssueSession(player, name)
	return tok, err
}

// NodeID is this instance's name.
func (srv *Server) NodeID() string { return srv.cfg.NodeID }

// Handle mounts h at pattern (net/http ServeMux syntax) beside the server's own routes, with the
// same body limit. It may be called before or after Serve.
func (srv *Server) Handle(pattern string, h http.Handler) { srv.mux.Handle(pattern, h) }

// HandleAdmin mounts h at pattern on the admin listener (beside pprof, /metrics and /readyz):
// for operator tools such as server/console. It may be called before or after Start.
func (srv *Server) HandleAdmin(pattern string, h http.Handler) { srv.adminMux.Handle(pattern, h) }

// AdminHandler is the admin listener's handler (tests serve it on a listener of their own).
func (srv *Server) AdminHandler() http.Handler { return srv.adminHandler }

// Authenticate verifies the request's bearer session token.
func (srv *Server) Authenticate(r *http.Request) (auth.Session, error) { return srv.player(r) }

// Fail writes err as the API's JSON error, with the code codeOf maps it to (an error that has
// an ErrorCode() protocol.ErrorCode method carries its own).
func (srv *Server) Fail(w http.ResponseWriter, err error) { srv.fail(w, err) }

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// Draining reports whether Shutdown has begun.
func (srv *Server) Draining() bool { return srv.draining.Load() }

// Notify sends a session-level EVENT of kind with data (a msgpack value) to every connected
// session of user, and reports how many it reached. It never blocks.
func (srv *Server) Notify(user string, kind protocol.EventKind, data []byte) int {
	frame := protocol.AppendServer(nil, &protocol.ServerMsg{Op: protocol.OpEvent, Kind: kind, Data: data})
	n := 0
	for _, s := range srv.hub.ofUser(user) {
		s.send(frame)
		n++
	}
	return n
}

// Connected reports whether user has a session on this instance (Notify would reach it): a
// caller can skip building an event nobody here would get.
func (srv *Server) Connected(user string) bool { return srv.hub.hasUser(user) }

// SetIdleHold installs hold: a connection that joined no match within the idle timeout is
// kept open while hold(its user) is true (the player is waiting in matchmaking).
func (srv *Server) SetIdleHold(hold func(user string) bool) { srv.idleHold.Store(&hold) }

func (srv *Server) heldIdle(user string) bool {
	h := srv.idleHold.Load()
	return h != nil && (*h)(user)
}
