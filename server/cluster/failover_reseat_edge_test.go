package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// The other ways a moved member can find no seat, or stop wanting one, while its JOIN into the
// match's new copy is under way (moveLocal on a real match; the sink stands for the session).
func TestMoveEdgeCases(t *testing.T) {
	f := newFailoverNet(t)
	a := f.start("a")
	newMatch := func() (*game.Match, *leaveWatcher) {
		m, err := a.srv.Registry().Create(game.CreateOptions{Game: "arena"})
		must(t, err)
		w := &leaveWatcher{leaves: make(chan [2]uint32, 16)}
		must(t, m.Watch(w, 1))
		return m, w
	}
	move := func(m *game.Match, s *fakeSeat) {
		rm := &remoteMatch{b: a.bus, id: m.ID()}
		if !rm.moveLocal(m, &relayed{sink: s, pid: s.pid, state: stLive, epoch: 1, tick: 40}) {
			t.Fatal("a Reseater was not moved")
		}
	}
	moves := func(result string) float64 { return testutil.ToFloat64(a.bus.fo.m.moves.WithLabelValues(result)) }

	t.Run("match-ended", func(t *testing.T) {
		m, _ := newMatch()
		m.Stop(protocol.EndStopped)
		<-m.Done()
		s := newFakeSeat(m.ID(), 7)
		lost := moves(moveLost)
		move(m, s)
		end := s.next(t)
		if end.Op != protocol.OpEnd || end.Reason != protocol.EndLost || end.Epoch != 1 || end.Tick != 40 {
			t.Fatalf("got %+v, want END LOST at the stream point it had (1, 40)", end)
		}
		if held, _ := s.Reseat(m.ID(), 7, 7); held {
			t.Fatal("the session still holds the lost seat")
		}
		if moves(moveLost) != lost+1 {
			t.Fatal("the lost move was not counted")
		}
	})

	t.Run("connection-closed", func(t *testing.T) {
		m, w := newMatch()
		s := newFakeSeat(m.ID(), 7)
		s.gone = true // parked: its RESUME must find the seat
		move(m, s)
		pid, reason := w.next(t)
		if reason != uint32(protocol.LeaveDropped) || pid != s.seat() {
			t.Fatalf("LEAVE of pid %d reason %d, want the new seat %d dropped", pid, reason, s.seat())
		}
		var kept bool
		must(t, m.Inspect(context.Background(), func(c *game.Ctx) {
			p := c.Player(pid)
			kept = p != nil && p.UserID == "zoe" && !p.Connected
		}))
		if !kept {
			t.Fatalf("pid %d is not zoe's dropped seat", pid)
		}
	})

	t.Run("left-meanwhile", func(t *testing.T) {
		m, w := newMatch()
		s := newFakeSeat(m.ID(), 7)
		s.leaveAfterCheck = true // it leaves between the move's start and the JOIN's answer
		move(m, s)
		pid, reason := w.next(t)
		if reason != uint32(protocol.LeaveLeft) {
			t.Fatalf("LEAVE of pid %d reason %d, want the seat given back (left)", pid, reason)
		}
		if frames := len(s.frames); frames > 1 { // at most the JOINED of the join's tick
			t.Fatalf("%d frames reached the session that left", frames)
		}
	})
}

// fakeSeat is a Reseater holding seat pid of match.
type fakeSeat struct {
	mu              sync.Mutex
	match           string
	pid             uint32
	gone            bool
	leaveAfterCheck bool
	frames          chan []byte
}

func newFakeSeat(match string, pid uint32) *fakeSeat {
	return &fakeSeat{match: match, pid: pid, frames: make(chan []byte, 64)}
}

func (s *fakeSeat) Deliver(shared, tail []byte) {
	select {
	case s.frames <- append(append([]byte(nil), shared...), tail...):
	default:
	}
}

func (s *fakeSeat) Detached(string, uint32, protocol.LeaveReason) {}

func (s *fakeSeat) Player() (string, string) { return "zoe", "Zoe" }

func (s *fakeSeat) Reseat(match string, from, to uint32) (bool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.match != match || s.pid != from {
		return false, s.gone
	}
	if s.leaveAfterCheck && from == to {
		s.match, s.pid = "", 0
		return true, s.gone
	}
	if to == 0 {
		s.match = ""
	}
	s.pid = to
	return true, s.gone
}

func (s *fakeSeat) seat() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

func (s *fakeSeat) next(t *testing.T) protocol.ServerMsg {
	t.Helper()
	select {
	case f := <-s.frames:
		var m protocol.ServerMsg
		must(t, protocol.DecodeServer(f, &m))
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("nothing reached the moved session within 5 s")
	}
	return protocol.ServerMsg{}
}

// leaveWatcher is a spectator that reports the LEAVE events (pid, reason) of the deltas.
type leaveWatcher struct{ leaves chan [2]uint32 }

func (w *leaveWatcher) Detached(string, uint32, protocol.LeaveReason) {}

func (w *leaveWatcher) Deliver(shared, tail []byte) {
	var m protocol.ServerMsg
	if protocol.DecodeServer(append(append([]byte(nil), shared...), tail...), &m) != nil || m.Op != protocol.OpDelta || m.Events == nil {
		return
	}
	var evs [][]msgpack.RawMessage
	if msgpack.Unmarshal(m.Events, &evs) != nil {
		return
	}
	for _, e := range evs {
		var kind, from, reason uint32
		if len(e) == 3 && msgpack.Unmarshal(e[0], &kind) == nil && protocol.EventKind(kind) == protocol.EventLeave &&
			msgpack.Unmarshal(e[1], &from) == nil && msgpack.Unmarshal(e[2], &reason) == nil {
			w.leaves <- [2]uint32{from, reason}
		}
	}
}

func (w *leaveWatcher) next(t *testing.T) (pid, reason uint32) {
	t.Helper()
	select {
	case l := <-w.leaves:
		return l[0], l[1]
	case <-time.After(5 * time.Second):
		t.Fatal("no LEAVE within 5 s")
	}
	return 0, 0
}
