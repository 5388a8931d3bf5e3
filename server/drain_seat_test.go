package server

import (
	"context"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// drainBus is the in-memory bus with the cluster bus's drain order: for the match it hands
// over, the new owner's address is named (the server closes the match's players with 4003),
// then the local copy stops with END MOVED.
type drainBus struct {
	Bus
	env   BusEnv
	match string
}

func (b *drainBus) Drain(_ context.Context, moved func(id, address string)) {
	m, ok := b.env.Registry.Get(b.match)
	if !ok {
		return
	}
	moved(b.match, "http://127.0.0.1:9")
	m.Stop(protocol.EndMoved)
	<-m.Done()
}

// A player closed with 4003 MOVED at a drain resumes on the match's new owner, which takes the
// session over from the draining instance: the seat must come with it, whether the copy's END
// MOVED detached the session before or after its close parked it.
func TestDrainedSessionHandsOverItsSeat(t *testing.T) {
	var bus *drainBus
	ts := startServer(t, func(c *Config) {
		c.Bus = func(env BusEnv) (Bus, error) {
			bus = &drainBus{Bus: NewMemoryBus(env.Registry, Owner{Node: "a"}), env: env}
			return bus, nil
		}
	})
	ann, tok := ts.connect("ann")
	cr := ts.create(tok, map[string]any{"game": "arena"})
	j := ann.join("", cr.Reservation.Ticket)
	bus.match = cr.Match.ID
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code := ann.closedWith(5 * time.Second); code != uint16(protocol.CloseMoved) {
		t.Fatalf("closed with %d, want 4003 MOVED", code)
	}
	// Shutdown waited for every read loop: the session's close has run.
	seat, ok := bus.env.TakeSession(ann.welcome.Session, ann.welcome.ResumeToken, ann.welcome.User)
	if !ok {
		t.Fatal("the drained session is gone: a RESUME on the new owner is refused")
	}
	if seat.MatchID != cr.Match.ID || seat.PID != j.PID {
		t.Fatalf("seat handed over %+v, want match %s pid %d", seat, cr.Match.ID, j.PID)
	}
}
