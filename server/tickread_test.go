package server

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/tickrelay/tickrelay/protocol"
)

func inputMsg(seq uint32) protocol.ClientMsg {
	return protocol.ClientMsg{Op: protocol.OpInput, Seq: seq, Payload: []byte{0xc0}}
}

// In tick mode the match reads its members' inputs just before its tick: the read loop parks
// once and never wakes for them, an input split over several ticks is completed from the
// bytes kept between them, and every input is applied once, in order, in the tick that read it.
func TestTickReadInputsWakeNobody(t *testing.T) {
	e := newTickEnv(t, ReadModeTick)
	c, pid := e.join(e.m, "ann")
	c.send(inputMsg(1)) // read by the read loop (it parks after it: now in a match)
	e.waitParked(1)
	s := e.session(c)
	e.stepUntil(e.m, c, func(m *protocol.ServerMsg) bool { return m.HasAck && m.Ack == 1 })
	parks, backs, frames := e.counters()

	two := append(msgFrame(inputMsg(2)), msgFrame(inputMsg(3))...)
	c.raw(two)
	waitQueued(t, s, len(two))
	e.step(e.m)
	if q := queued(t, s); q != 0 {
		t.Fatalf("%d bytes left in the socket after the tick", q)
	}
	if got := e.rec.of(e.m, pid); !slices.Equal(got, []string{"i1", "i2", "i3"}) {
		t.Fatalf("applied %v after the tick that read inputs 2 and 3", got)
	}
	// Input 4, one byte per tick: each byte is read and kept; the input is applied in the
	// tick that read its last byte.
	four := msgFrame(inputMsg(4))
	for i := range four {
		c.raw(four[i : i+1])
		waitQueued(t, s, 1)
		e.step(e.m)
		if q := queued(t, s); q != 0 {
			t.Fatalf("byte %d not read by the tick", i)
		}
		if got, want := len(e.rec.of(e.m, pid)), 3+btoi(i == len(four)-1); got != want {
			t.Fatalf("after byte %d of %d: %d inputs applied, want %d", i+1, len(four), got, want)
		}
	}
	p2, b2, f2 := e.counters()
	if p2 != parks || b2 != backs || f2 != frames+3 {
		t.Fatalf("parks %v→%v, hand-backs %v→%v, frames read by the match %v→%v: want no wake-up and 3 frames", parks, p2, backs, b2, frames, f2)
	}
	if got := e.rec.of(e.m, pid); !slices.Equal(got, []string{"i1", "i2", "i3", "i4"}) {
		t.Fatalf("applied %v", got)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A random mix of every kind of frame, split at random places and across ticks, in both read
// modes: inputs and messages are applied exactly once and in the order sent, every PING and
// SYNC is answered, and WebSocket pings get their pongs.
func TestTickReadMixedStreamInOrder(t *testing.T) {
	for _, mode := range []string{ReadModeTick, ReadModeLoop} {
		t.Run(mode, func(t *testing.T) {
			e := newTickEnv(t, mode, func(c *Config) { c.InputRate, c.InputBurst = 1e6, 1e6 })
			c, pid := e.join(e.m, "ann")
			rng := rand.New(rand.NewPCG(1, uint64(len(mode))))
			var want []string
			seq, msgID := uint32(0), uint64(0)
			rounds := 120
			if testing.Short() {
				rounds = 40
			}
			for round := 1; round <= rounds; round++ {
				var stream []byte
				counted := 0
				for k := rng.IntN(7); k >= 0; k-- {
					switch r := rng.IntN(10); {
					case r < 4 && counted < 4: // the inbox takes 4 inputs and messages per member and tick
						seq++
						counted++
						stream = append(stream, msgFrame(inputMsg(seq))...)
						want = append(want, fmt.Sprintf("i%d", seq))
					case r < 6 && counted < 4:
						msgID++
						counted++
						stream = append(stream, msgFrame(protocol.ClientMsg{Op: protocol.OpMessage, ToAll: true, Payload: protocol.AppendUint(nil, msgID)})...)
						want = append(want, fmt.Sprintf("m%d", msgID))
					case r < 7:
						stream = append(stream, clientFrame(0x80|wsPong, []byte("u"), randKey())...) // unsolicited: allowed
					case r < 8:
						stream = append(stream, clientFrame(0x80|wsPing, []byte("p"), randKey())...)
					case r < 9:
						stream = append(stream, msgFrame(protocol.ClientMsg{Op: protocol.OpSync, Req: 7})...)
					default:
						stream = append(stream, msgFrame(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 0)})...)
					}
				}
				// The round ends with a PING naming it: its PONG means the server has handled
				// everything before it.
				stream = append(stream, msgFrame(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, uint64(round))})...)
				for len(stream) > 0 {
					n := 1 + rng.IntN(len(stream))
					c.raw(stream[:n])
					stream = stream[n:]
					if rng.IntN(3) == 0 {
						e.step(e.m)
					}
				}
				e.stepUntil(e.m, c, func(m *protocol.ServerMsg) bool {
					var r uint64
					return m.Op == protocol.OpPong && protocol.Unmarshal(m.T, &r) == nil && r == uint64(round)
				})
				e.step(e.m) // what the read loop queued before the PONG is applied now
				if got := e.rec.of(e.m, pid); !slices.Equal(got, want) {
					t.Fatalf("round %d: applied\n%v\nwant\n%v", round, got, want)
				}
			}
			if mode == ReadModeTick {
				if _, _, frames := e.counters(); frames == 0 {
					t.Fatal("the match read no frame itself")
				}
			}
		})
	}
}

// A WebSocket ping sent while the read loop is parked is answered (gws's pong, through the
// writer) once the match hands the connection back.
func TestTickReadWebSocketPingAnswered(t *testing.T) {
	e := newTickEnv(t, ReadModeTick)
	c, _ := e.joinParked(e.m, "ann")
	if err := c.conn.WritePing([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	e.stepUntil(e.m, c, func(m *protocol.ServerMsg) bool { return m.HasAck && m.Ack == 1 })
	for {
		select {
		case p := <-c.pongs:
			if string(p) != "hello" {
				t.Fatalf("pong %q", p)
			}
			return
		default:
			e.step(e.m)
		}
	}
}

// The match's poll of a parked member allocates nothing (INPUT frames decoded into the
// session's decoder, queued with Input, the read's function a method value made once).
func TestTickReadPollDoesNotAllocate(t *testing.T) {
	e := newTickEnv(t, ReadModeTick, func(c *Config) { c.InputRate, c.InputBurst = 1e9, 1e9 })
	c, _ := e.joinParked(e.m, "ann")
	s := e.session(c)
	frame := msgFrame(inputMsg(2))
	// Called here rather than on the match goroutine, which is idle between manual ticks (the
	// inbox refuses inputs past the member's share: nothing is appended).
	// MemStats around each poll only (the test's writing and waiting allocate): most polls
	// must allocate nothing (another goroutine, the janitor, may allocate during one of them).
	zero := 0
	for i := 0; i < 40; i++ {
		c.raw(frame)
		waitQueued(t, s, len(frame))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s.PreTick(e.m)
		runtime.ReadMemStats(&after)
		// Under -race, sync.Pool drops some buffers on purpose: one allocation is the pool's.
		if n := after.Mallocs - before.Mallocs; n == 0 || raceEnabled && n == 1 {
			zero++
		}
	}
	if zero < 30 {
		t.Fatalf("only %d of 40 polls allocated nothing", zero)
	}
	if !s.tick.parked.Load() {
		t.Fatal("the polls handed back")
	}
}

// A member that sends nothing goes back to its read loop after tickIdlePolls empty polls (no
// read per tick for a silent player); its next frame is read at once and parks it again.
func TestTickReadIdleMemberBackToLoop(t *testing.T) {
	e := newTickEnv(t, ReadModeTick)
	c, pid := e.joinParked(e.m, "ann")
	_, backs, _ := e.counters()
	for i := 0; i < tickIdlePolls-1; i++ {
		e.step(e.m)
	}
	if !e.session(c).tick.parked.Load() {
		t.Fatalf("handed back before %d empty polls", tickIdlePolls)
	}
	e.step(e.m)
	e.waitParked(0)
	if _, b2, _ := e.counters(); b2 != backs+1 {
		t.Fatalf("hand-backs %v → %v", backs, b2)
	}
	c.send(inputMsg(2)) // read by the read loop, without a tick; then it parks again
	e.waitParked(1)
	e.stepUntil(e.m, c, func(m *protocol.ServerMsg) bool { return m.HasAck && m.Ack == 2 })
	if got := e.rec.of(e.m, pid); !slices.Equal(got, []string{"i1", "i2"}) {
		t.Fatalf("applied %v", got)
	}
}

// Only a player who sends inputs parks: a member whose read loop handled something else (a
// WebSocket pong, a PING) keeps reading on arrival, so a seated spectator answering the
// server's pings is not polled every tick for nothing.
func TestTickReadParksAfterInputsOnly(t *testing.T) {
	e := newTickEnv(t, ReadModeTick)
	c, _ := e.join(e.m, "ann")
	c.send(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 1)})
	c.expect(protocol.OpPong) // answered on arrival, without a tick: not parked
	if err := c.conn.WritePong(nil); err != nil {
		t.Fatal(err)
	}
	c.send(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 2)})
	c.expect(protocol.OpPong)
	if n := e.ts.srv.tickWatch.parked(); n != 0 {
		t.Fatalf("%d parked without an input", n)
	}
	c.send(inputMsg(1))
	e.waitParked(1)
}
