package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tickrelay/tickrelay/game"
)

// An ended match stays known for a while (game.RegistryConfig.EndedRetention, --ended-retention):
// GET /v1/matches/{id} answers its last info with "ended": true and its result, and a JOIN,
// reservation, stream or publish is refused with MATCH_ENDED instead of NOT_FOUND. (An ended
// match is remembered by the instance that ran it.)

// endedError is MATCH_ENDED with the record of the match.
type endedError struct{ rec game.EndedMatch }

func (e *endedError) Error() string {
	return fmt.Sprintf("match %s ended (%s) at %s", e.rec.Info.ID, e.rec.Reason, e.rec.EndedAt.UTC().Format(time.RFC3339))
}

func (e *endedError) Unwrap() error { return game.ErrMatchEnded }

// locate finds a match through the bus; one that ended lately is an *endedError.
func (srv *Server) locate(ctx context.Context, id string) (MatchHandle, error) {
	m, err := srv.bus.Locate(ctx, id)
	return m, srv.endedOr(id, err)
}

// endedOr turns a NOT_FOUND for a match that ended lately into its *endedError.
func (srv *Server) endedOr(id string, err error) error {
	if err != nil && errors.Is(err, errNoMatch) {
		if rec, ok := srv.reg.Ended(id); ok {
			return &endedError{rec: rec}
		}
	}
	return err
}

// endJSON is the "end" object of an ended match in the HTTP API.
type endJSON struct {
	Reason     int       `json:"reason"`      // protocol.EndReason
	ReasonName string    `json:"reason_name"` // FINISHED, EMPTY, STOPPED, ERROR
	Result     any       `json:"result"`      // the game's END result as JSON (null when none)
	EndedAt    time.Time `json:"ended_at"`
}

func endedJSON(rec game.EndedMatch) endJSON {
	return endJSON{Reason: int(rec.Reason), ReasonName: rec.Reason.String(), Result: plain(rec.Result), EndedAt: rec.EndedAt.UTC()}
}
