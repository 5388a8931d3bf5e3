package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// ringSize is how many recent inputs a client remembers the send time of (6.4 s at 20 Hz).
const ringSize = 128

// role is what a client measures.
type role uint8

const (
	roleCount  role = iota // count frames and bytes, read the tick for "seen" (probe mode's others)
	roleAck                // decode every DELTA: ack latency, gaps (arena's measuring players)
	roleSpread             // fanout spectator: when each tick arrives relative to its first receipt
)

// slot remembers one input: its seq and its send time (ns since the run's base) × 2, plus 1
// when it was sent in the measured window.
type slot struct {
	seq atomic.Uint32
	ts  atomic.Int64
}

// client is one WebSocket connection of the load generator. Its read goroutine (gws ReadLoop)
// runs OnMessage; one sender goroutine writes its inputs; the setup goroutine waits on setupCh.
type client struct {
	r     *run
	id    int
	match *matchState
	role  role
	sends bool

	conn    *gws.Conn // gws client
	raw     bool      // an epoll client: setup below, then pc
	setup   *rawSetup // epoll client until it joins its pool
	pc      *pconn    // epoll client in its pool
	setupCh chan setupEvent
	joined  atomic.Bool
	closing atomic.Bool // we are closing it: its close is not a drop

	// set by the read goroutine before it signals JOINED
	pid     uint32
	members int

	// counters (read goroutine)
	msgsIn, bytesIn, wireIn atomic.Int64
	// counters (sender)
	msgsOut, bytesOut atomic.Int64

	lastTick atomic.Uint32 // last tick seen, sent back as INPUT's "seen"

	// inputs and acks
	ring     [ringSize]slot
	winSent  atomic.Int64 // inputs sent in the window
	mu       sync.Mutex   // ack processing vs finalize
	lastAck  uint32
	ackedWin int64
	final    bool

	// read goroutine only
	msg    protocol.ServerMsg
	stream follower // where the client's state is in its match's stream

	// sender only
	seq    uint32
	period int64 // start of the current send period, ns since base
	phase  int64 // offset of the send within the period
	due    int64 // next send time: period + phase
	pay    int
}

type setupEvent struct {
	op  protocol.Op
	err error
}

// wsURL is ws://addr/ws?token=…
func wsURL(addr, token string) string {
	return "ws://" + addr + "/ws?token=" + url.QueryEscape(token)
}

// dial opens the WebSocket and waits for WELCOME. It returns the handshake time (TCP connect
// and upgrade).
func (c *client) dial(ctx context.Context, addr, token string, timeout time.Duration) (time.Duration, error) {
	if c.raw {
		return c.dialRaw(ctx, addr, token, timeout)
	}
	c.setupCh = make(chan setupEvent, 4)
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", protocol.Subprotocol) // Set: gws reads it back with Get
	opt := &gws.ClientOption{
		Addr:               wsURL(addr, token),
		RequestHeader:      h,
		HandshakeTimeout:   timeout,
		ParallelEnabled:    false,
		ReadMaxPayloadSize: 1 << 20,
	}
	start := time.Now()
	conn, resp, err := gws.NewClient(c, opt)
	hs := time.Since(start)
	if err != nil {
		if resp != nil {
			return hs, fmt.Errorf("upgrade: HTTP %d", resp.StatusCode)
		}
		return hs, fmt.Errorf("upgrade: %w", err)
	}
	if conn.SubProtocol() != protocol.Subprotocol {
		_ = conn.WriteClose(1000, nil)
		return hs, fmt.Errorf("upgrade: server chose subprotocol %q", conn.SubProtocol())
	}
	c.conn = conn
	go conn.ReadLoop()
	ev, err := c.wait(ctx, timeout)
	if err != nil {
		return hs, fmt.Errorf("waiting for WELCOME: %w", err)
	}
	if ev.op != protocol.OpWelcome {
		return hs, fmt.Errorf("first message was op %d, not WELCOME", ev.op)
	}
	return hs, nil
}

// join sends JOIN [2, req, match, ticket|nil, nil] and waits for JOINED.
func (c *client) join(ctx context.Context, matchID, ticket string, timeout time.Duration) error {
	if c.setup != nil {
		return c.joinRaw(ctx, matchID, ticket, timeout)
	}
	b := protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpJoin, Req: 1, Match: matchID, Ticket: ticket})
	if err := c.conn.WriteMessage(gws.OpcodeBinary, b); err != nil {
		return fmt.Errorf("sending JOIN: %w", err)
	}
	ev, err := c.wait(ctx, timeout)
	if err != nil {
		return fmt.Errorf("waiting for JOINED: %w", err)
	}
	if ev.op != protocol.OpJoined {
		return fmt.Errorf("JOIN answered with op %d", ev.op)
	}
	return nil
}

func (c *client) wait(ctx context.Context, timeout time.Duration) (setupEvent, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ev := <-c.setupCh:
		return ev, ev.err
	case <-t.C:
		return setupEvent{}, errors.New("timed out")
	case <-ctx.Done():
		return setupEvent{}, ctx.Err()
	}
}

func (c *client) signal(ev setupEvent) {
	select {
	case c.setupCh <- ev:
	default:
	}
}

// close closes the connection on purpose (not counted as a drop). A client in an epoll pool
// is closed by its pool (pool.closeAll), after the pool's loop stopped.
func (c *client) close() {
	c.closing.Store(true)
	if c.conn != nil {
		_ = c.conn.WriteClose(1000, nil)
	}
	if c.setup != nil {
		c.setup.closeSetup()
		c.setup = nil
	}
}

// ---- gws.Event ----

func (c *client) OnOpen(*gws.Conn) {}

func (c *client) OnPing(s *gws.Conn, p []byte) { _ = s.WritePong(p) }

func (c *client) OnPong(*gws.Conn, []byte) {}

func (c *client) OnClose(_ *gws.Conn, err error) {
	if !c.joined.Load() {
		c.signal(setupEvent{err: fmt.Errorf("closed: %v", err)})
		return
	}
	if !c.closing.Load() && c.r != nil {
		c.r.dropped(c, err)
	}
}

// OnMessage is a gws client's receive path (see receive).
func (c *client) OnMessage(_ *gws.Conn, m *gws.Message) {
	b := m.Bytes()
	n := int64(len(b))
	c.wireIn.Add(n + wsHeader(n))
	c.receive(b, c.r.now())
	_ = m.Close()
}

// receive is the receive hot path of both kinds of client: count, then by role either peek at
// the tick, decode the DELTA for its ack, or note the tick's arrival. Nothing here allocates
// for a DELTA, nor keeps b.
func (c *client) receive(b []byte, now int64) {
	c.msgsIn.Add(1)
	c.bytesIn.Add(int64(len(b)))
	if c.joined.Load() && len(b) > 2 && b[0] == 0x99 && b[1] == byte(protocol.OpDelta) {
		switch c.role {
		case roleAck:
			c.onDelta(b, now)
		case roleSpread:
			if tick, ok := peekTick(b); ok {
				c.lastTick.Store(tick)
				c.r.spreadSeen(c.id, tick, now)
			}
		default:
			if tick, ok := peekTick(b); ok {
				c.lastTick.Store(tick)
			}
		}
		return
	}
	c.onOther(b)
}

// stamp remembers the send time of input c.seq for its ack (and counts it when in the window).
func (c *client) stamp(ts int64) {
	v := ts << 1
	if c.r.inWindow(ts) {
		v |= 1
		c.winSent.Add(1)
	}
	sl := &c.ring[c.seq%ringSize]
	sl.ts.Store(v)
	sl.seq.Store(c.seq)
}

// wsHeader is the size of a server → client frame header for a payload of n bytes.
func wsHeader(n int64) int64 {
	switch {
	case n < 126:
		return 2
	case n < 1<<16:
		return 4
	}
	return 10
}

// peekTick reads a DELTA's tick without decoding the rest.
func peekTick(b []byte) (uint32, bool) {
	r := protocol.NewReader(b)
	if _, err := r.ArrayLen(); err != nil {
		return 0, false
	}
	if _, err := r.Uint(); err != nil { // op
		return 0, false
	}
	if _, err := r.Uint32(); err != nil { // epoch
		return 0, false
	}
	t, err := r.Uint32()
	return t, err == nil
}

// follower is the load generator's view of a match's stream: only where its state is (epoch,
// tick), following PROTOCOL.md's rules through game.FitDelta, the function the Mirror uses
// (and the stream vectors check). The load generator keeps no state to repair, so after a gap
// it counts it and follows the new base instead of sending SYNC.
type follower struct {
	epoch, tick uint32
	ready       bool
}

// snapshot sets the state to (epoch, tick): a JOINED, or a CATCHUP naming it.
func (f *follower) snapshot(epoch, tick uint32) { f.epoch, f.tick, f.ready = epoch, tick, true }

// delta follows d and says how it fitted.
func (f *follower) delta(d *protocol.ServerMsg) game.Fit {
	fit := game.FitDelta(f.ready, f.epoch, f.tick, d)
	if fit != game.FitStale {
		f.epoch, f.tick, f.ready = d.Epoch, d.Tick, true
	}
	return fit
}

func (c *client) onDelta(b []byte, now int64) {
	if err := protocol.DecodeServer(b, &c.msg); err != nil {
		c.r.countErr("bad DELTA: " + errString(err))
		return
	}
	d := &c.msg
	switch c.stream.delta(d) {
	case game.FitStale:
		return // a duplicate: already counted
	case game.FitGap:
		c.r.gaps.Add(1)
	}
	c.lastTick.Store(d.Tick)
	if d.HasAck {
		c.onAck(d.Ack, now)
	}
}

// onAck records the latency of every input up to ack not acked before.
func (c *client) onAck(ack uint32, now int64) {
	c.mu.Lock()
	if c.final || ack <= c.lastAck {
		c.mu.Unlock()
		return
	}
	from := c.lastAck + 1
	if ack-from >= ringSize {
		from = ack - ringSize + 1
	}
	for s := from; s <= ack && s >= from; s++ {
		sl := &c.ring[s%ringSize]
		if sl.seq.Load() != s {
			continue
		}
		v := sl.ts.Load()
		if v&1 == 1 {
			c.r.lat.Record(c.id, time.Duration(now-v>>1))
			c.ackedWin++
		}
	}
	c.lastAck = ack
	c.mu.Unlock()
}

// finalize stops ack recording and records every input sent in the window and still unacked
// with its age now, a lower bound of its latency. It returns how many there were.
func (c *client) finalize(now, winEnd int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.final = true
	unacked := c.winSent.Load() - c.ackedWin
	if unacked <= 0 {
		return 0
	}
	var found int64
	for i := range c.ring {
		sl := &c.ring[i]
		s := sl.seq.Load()
		if s == 0 || s <= c.lastAck {
			continue
		}
		if v := sl.ts.Load(); v&1 == 1 && found < unacked {
			c.r.lat.Record(c.id, time.Duration(now-v>>1))
			found++
		}
	}
	for ; found < unacked; found++ { // older than the ring: at least as old as the drain
		c.r.lat.Record(c.id, time.Duration(now-winEnd))
	}
	return unacked
}

// onOther handles everything but the DELTA fast path: WELCOME, JOINED, ERROR, END and deltas
// before JOINED.
func (c *client) onOther(b []byte) {
	if err := protocol.DecodeServer(b, &c.msg); err != nil {
		c.r.countErr("bad frame: " + errString(err))
		if !c.joined.Load() {
			c.signal(setupEvent{err: fmt.Errorf("bad frame: %w", err)})
		}
		return
	}
	d := &c.msg
	switch d.Op {
	case protocol.OpWelcome:
		c.signal(setupEvent{op: protocol.OpWelcome})
	case protocol.OpJoined:
		c.pid = d.PID
		c.members = 0
		if len(d.Members) > 0 {
			r := protocol.NewReader(d.Members)
			if n, err := r.MapLen(); err == nil {
				c.members = n
			}
		}
		c.stream.snapshot(d.Epoch, d.Tick)
		c.lastTick.Store(d.Tick)
		c.joined.Store(true)
		c.signal(setupEvent{op: protocol.OpJoined})
	case protocol.OpError:
		err := fmt.Errorf("ERROR %d %q (ref op %d)", d.Code, d.Message, d.RefOp)
		if !c.joined.Load() {
			c.signal(setupEvent{op: protocol.OpError, err: err})
			return
		}
		c.r.countErr(fmt.Sprintf("ERROR %d", d.Code))
	case protocol.OpCatchup:
		c.stream.snapshot(d.Epoch, d.Tick) // the DELTAs that follow apply on top of tick
	case protocol.OpEnd:
		c.r.countErr("END received")
	case protocol.OpDelta:
		// before JOINED: ignore
	}
}

func errString(err error) string {
	var de *protocol.DecodeError
	if errors.As(err, &de) {
		return de.Err.Error()
	}
	return err.Error()
}
