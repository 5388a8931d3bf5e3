package server

import (
	"context"

	"github.com/tickrelay/tickrelay/protocol"
)

// maxCloseReason is the longest close reason a close frame carries (RFC 6455: 123 bytes).
const maxCloseReason = 123

// handOff is the shutdown's hand-off phase in a cluster (a Drainer bus): each match handed to
// another instance has its local players closed with 4003 MOVED and the new owner's base URL
// as the reason, before the local copy stops; the players reconnect there and resume.
func (srv *Server) handOff(ctx context.Context) {
	d, ok := srv.bus.(Drainer)
	if !ok {
		return
	}
	d.Drain(ctx, func(id, address string) {
		for _, s := range srv.hub.all() {
			s.mu.Lock()
			in := s.match != nil && s.match.ID() == id
			if in {
				s.moved = SessionSeat{MatchID: id, PID: s.pid}
			}
			s.mu.Unlock()
			if in {
				s.close(protocol.CloseMoved, movedReason(address))
			}
		}
	})
}

// closeRelayedMoved closes, at shutdown, the sessions whose match runs on another instance
// with 4003 MOVED and that instance's base URL: the match goes on there, the player
// reconnects to it directly. It reports how many it closed.
func (srv *Server) closeRelayedMoved() int {
	n := 0
	for _, s := range srv.hub.all() {
		s.mu.Lock()
		m := s.match
		s.mu.Unlock()
		if m == nil {
			continue
		}
		if o := m.Owner(); o.Node != "" && o.Node != srv.cfg.NodeID && o.Address != "" {
			s.close(protocol.CloseMoved, movedReason(o.Address))
			n++
		}
	}
	return n
}

// movedReason is address when it fits a close frame, else "" (reconnect anywhere).
func movedReason(address string) string {
	if len(address) > maxCloseReason {
		return ""
	}
	return address
}
