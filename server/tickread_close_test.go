package server

import (
	"bytes"
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// closeCodeOf parks ann in tick mode (or not, in loop mode), writes b raw, and ticks until the
// server closed the connection; it returns the close code the client saw.
func closeCodeOf(t *testing.T, mode string, b []byte, mutate ...func(*Config)) uint16 {
	e := newTickEnv(t, mode, mutate...)
	c, _ := e.join(e.m, "ann")
	c.send(inputMsg(1))
	if mode == ReadModeTick {
		e.waitParked(1)
	}
	c.raw(b)
	for end := time.Now().Add(10 * time.Second); ; {
		select {
		case <-c.done:
			return c.code()
		default:
		}
		if time.Now().After(end) {
			t.Fatal("not closed within 10 s")
		}
		e.step(e.m)
		for len(c.frames) > 0 {
			<-c.frames
		}
	}
}

// What gws refuses it still refuses, with the same close code, when the frame comes while the
// match reads the socket: the tick reader hands it back untouched. And a flood of inputs
// (more bytes than SO_RCVLOWAT and one poll take) still meets the rate limit and its close.
func TestTickReadRefusalsKeepTheirCodes(t *testing.T) {
	key := randKey()
	flood := bytes.Repeat(msgFrame(inputMsg(2)), 2000) // 120 pass the budget, 300 refusals close
	cases := []struct {
		name string
		b    []byte
		want uint16
	}{
		{"oversized", clientFrame(0x80|wsBinary, make([]byte, 17<<10), key), 1009},
		{"text", clientFrame(0x80|wsText, []byte("hi"), key), uint16(protocol.CloseUnsupported)},
		{"unmasked", []byte{0x82, 0x01, 0xc0}, 1002},
		{"fragment then binary", append(clientFrame(wsBinary, []byte{0x91}, key), msgFrame(inputMsg(3))...), 1002},
		{"close", clientFrame(0x80|wsClose, []byte{0x03, 0xE8}, key), 1000},
		{"input flood", flood, uint16(protocol.CloseRateLimit)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loop := closeCodeOf(t, ReadModeLoop, c.b)
			tick := closeCodeOf(t, ReadModeTick, c.b)
			if loop != c.want || tick != c.want {
				t.Fatalf("close code: loop mode %d, tick mode %d; want %d", loop, tick, c.want)
			}
		})
	}
}

// A parked connection that the client closes (FIN) or resets (RST) is noticed at the next
// tick: the read loop wakes, gws reports the close, and the seat is dropped.
func TestTickReadClientGoneWhileParked(t *testing.T) {
	for _, rst := range []bool{false, true} {
		e := newTickEnv(t, ReadModeTick)
		c, pid := e.joinParked(e.m, "ann")
		if tc, ok := c.conn.NetConn().(*net.TCPConn); ok && rst {
			_ = tc.SetLinger(0)
		}
		_ = c.conn.NetConn().Close()
		<-c.done
		for connected := true; connected; {
			e.step(e.m)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = e.m.Inspect(ctx, func(x *game.Ctx) { connected = x.Player(pid) != nil && x.Player(pid).Connected })
			cancel()
		}
		e.waitParked(0)
	}
}

// A silent client's read deadline ends tick mode at the next tick (gws then closes as in loop
// mode), and without ticks (a frozen or held match) the janitor's watchdog hands back within
// two of its rounds, so the deadline is never missed by more than that.
func TestTickReadDeadlineWhileParked(t *testing.T) {
	for _, ticking := range []bool{true, false} {
		e := newTickEnv(t, ReadModeTick, func(c *Config) { c.ReadTimeout = 300 * time.Millisecond })
		c, _ := e.joinParked(e.m, "ann")
		start := time.Now()
		for done := false; !done; {
			select {
			case <-c.done:
				done = true
			case <-time.After(20 * time.Millisecond):
				if ticking {
					e.step(e.m)
				}
			}
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("ticking %v: closed %v after the last frame (read timeout 300ms)", ticking, d)
		}
	}
}

// LEAVE from a parked connection is handed back and answered; a JOIN of another match then
// moves the tick reader there: the new match gets the inputs, the old one none.
func TestTickReadLeaveThenJoinAnother(t *testing.T) {
	e := newTickEnv(t, ReadModeTick)
	c, pidA := e.joinParked(e.m, "ann")
	c.send(protocol.ClientMsg{Op: protocol.OpLeave, Req: 2})
	e.stepUntil(e.m, c, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpLeft })
	b := e.create()
	c.send(protocol.ClientMsg{Op: protocol.OpJoin, Req: 3, Match: b.ID()})
	j, _ := e.stepUntil(b, c, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpJoined })
	c.send(inputMsg(10))
	e.waitParked(1)
	c.send(inputMsg(11))
	e.step(e.m)
	e.stepUntil(b, c, func(m *protocol.ServerMsg) bool { return m.HasAck && m.Ack == 11 })
	if got := e.rec.of(b, j.PID); !slices.Equal(got, []string{"i10", "i11"}) {
		t.Fatalf("match B applied %v", got)
	}
	if got := e.rec.of(e.m, pidA); !slices.Equal(got, []string{"i1"}) {
		t.Fatalf("match A applied %v", got)
	}
}

// A match that ends (here: stopped) hands its parked members back: they get END, and their
// read loop serves them again (an INPUT after it is told NOT_IN_MATCH).
func TestTickReadMatchEndHandsBack(t *testing.T) {
	e := newTickEnv(t, ReadModeTick)
	c, _ := e.joinParked(e.m, "ann")
	e.m.Stop(protocol.EndStopped)
	<-e.m.Done()
	e.waitParked(0)
	c.send(inputMsg(2))
	for m := c.next(); m.Op != protocol.OpError; m = c.next() {
	}
}

// A server shutdown with parked connections ends their matches and closes them with 4000.
func TestTickReadShutdownWhileParked(t *testing.T) {
	e := newTickEnv(t, ReadModeTick)
	c, _ := e.joinParked(e.m, "ann")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-c.done
	if c.code() != uint16(protocol.CloseShutdown) {
		t.Fatalf("close code %d", c.code())
	}
}

// A RESUME on a new connection takes over a seat whose old connection is parked: the old one
// is handed back and closed with REPLACED, an input left unread in its socket is never applied
// to the seat, and the new connection's inputs are (read by the match once it parks).
func TestTickReadResumeTakesOverParked(t *testing.T) {
	e := newTickEnv(t, ReadModeTick)
	tok, _ := e.ts.guest("ann")
	old, _, err := e.ts.dial(tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	old.welcome = old.expect(protocol.OpWelcome)
	old.send(protocol.ClientMsg{Op: protocol.OpJoin, Req: 1, Match: e.m.ID()})
	j, _ := e.stepUntil(e.m, old, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpJoined })
	old.send(inputMsg(1))
	e.waitParked(1)
	old.raw(msgFrame(inputMsg(50))) // waits in the socket for the next tick
	waitQueued(t, e.session(old), len(msgFrame(inputMsg(50))))
	c2, _, err := e.ts.dial(tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2.expect(protocol.OpWelcome)
	c2.send(protocol.ClientMsg{Op: protocol.OpResume, Req: 2, Session: old.welcome.Session, ResumeToken: old.welcome.ResumeToken})
	c2.expect(protocol.OpResumed)
	<-old.done
	if old.code() != uint16(protocol.CloseReplaced) {
		t.Fatalf("old connection closed with %d", old.code())
	}
	e.stepUntil(e.m, c2, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpJoined || m.Op == protocol.OpCatchup })
	c2.send(inputMsg(2))
	e.waitParked(1)
	c2.send(inputMsg(3))
	e.stepUntil(e.m, c2, func(m *protocol.ServerMsg) bool { return m.HasAck && m.Ack == 3 })
	if got := e.rec.of(e.m, j.PID); !slices.Equal(got, []string{"i1", "i2", "i3"}) {
		t.Fatalf("applied %v (input 50 was left in the replaced connection)", got)
	}
}
