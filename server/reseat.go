package server

import "github.com/tickrelay/tickrelay/game"

// Reseater is a sink that can be seated again on its behalf: a session relayed to a match on
// another instance, when that match moves (its owner died and it was restored elsewhere from
// a checkpoint, or a drain handed it over). The bus takes the seat back with a JOIN as the
// session's user (the restored match may not have the seat at all: its checkpoint can predate
// the join) and tells the session which pid it holds now.
type Reseater interface {
	game.Sink
	// Player is the user and display name the sink plays as.
	Player() (user, name string)
	// Reseat moves the sink's seat in match matchID from pid from to pid to (0: it has none
	// there any more; from == to: only asks). held is false, and nothing changes, when the sink
	// no longer holds seat from of that match (it left, was removed, or joined another);
	// gone is true when its connection is closed (a parked session keeps its seat for RESUME).
	Reseat(matchID string, from, to uint32) (held, gone bool)
}

var _ Reseater = (*session)(nil)

// Player implements Reseater.
func (s *session) Player() (user, name string) { return s.user, s.name }

// Reseat implements Reseater.
func (s *session) Reseat(matchID string, from, to uint32) (held, gone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.match == nil || s.match.ID() != matchID || s.pid != from {
		return false, s.gone
	}
	if to == 0 {
		s.match = nil
	}
	s.pid = to
	return true, s.gone
}
