package game

import (
	"context"
	"time"
)

// MemberDetail is one seat as an operator sees it (Match.Members): more than MemberInfo, and
// the sink, so the server can add its connection's figures.
type MemberDetail struct {
	PID       uint32
	UserID    string
	Name      string
	Connected bool
	DroppedAt time.Time // when the connection was lost (zero while connected)
	LastInput uint32    // seq of the last input applied (the ack the member was last sent)
	Sink      Sink      // nil while dropped; read-only use (type-assert for statistics)
}

// Members returns the match's seats in join order, read on the match goroutine between ticks
// (like Inspect). Errors: ErrMatchEnded once the match ended, or ctx's error.
func (m *Match) Members(ctx context.Context) ([]MemberDetail, error) {
	var out []MemberDetail
	err := m.Inspect(ctx, func(*Ctx) {
		out = make([]MemberDetail, 0, len(m.order))
		for _, mem := range m.order {
			d := MemberDetail{PID: mem.PID, UserID: mem.UserID, Name: mem.Name, Connected: mem.Connected,
				LastInput: mem.LastInput, Sink: mem.sink}
			if !mem.Connected {
				d.DroppedAt = mem.droppedAt
			}
			out = append(out, d)
		}
	})
	return out, err
}
