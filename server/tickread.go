package server

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// The tick reader (Config.ReadMode "tick"): a running local match reads its members' sockets
// itself, just before its tick.
//
// An input is applied at its match's next tick whenever it arrives, so reading it earlier buys
// nothing; yet with a goroutine per connection every input that arrives while the server is
// idle wakes the thread sleeping in the netpoller (epoll_pwait), which wakes the read loop's
// goroutine. In tick mode a connection's gws read loop, standing between two frames (gws's
// bufio reads only when it holds nothing), parks on a channel instead of the netpoller, and
// its socket's SO_RCVLOWAT is raised to tickLowat: the kernel then wakes epoll only when that
// many bytes are queued (or on FIN/RST), so small inputs wake nobody. The match goroutine, in
// its pre-tick hook (game.PreTicker), makes one non-blocking read(2) per parked member and
// handles the complete INPUT frames (and pongs) exactly as the read loop would: decoded, paid
// for from the connection's budget, queued with Input. Everything else — any other message,
// a control frame other than a pong, a fragmented, text, oversized or unmasked frame, EOF, an
// error, a refused budget, a passed read deadline, more bytes than one read takes — ends tick
// mode: the bytes from that frame on are handed back, the read loop wakes, its Read returns
// them to gws first, and gws handles everything as before (its checks, limits and close codes
// are unchanged). The loop parks again when it next stands between two frames.
//
// Who reads the socket: the read loop, except while it is parked (state tickParked), when the
// match goroutine does, under mu. Every change of the session's match, its Close, and the
// server's watchdog (tickWatch, for a match that stopped ticking) hand back.
//
// Lock order: tickReader.mu before session.mu (PreTick reads the session's match under both);
// tickWatch.mu before tickReader.mu.
type tickReader struct {
	c    *rawReadConn
	s    *session
	wake chan struct{} // one signal per hand-back, to the parked read loop

	parked   atomic.Bool  // state == tickParked (a lock-free check for PreTick)
	deadline atomic.Int64 // the read deadline last set (unix nanos, 0: none)

	mu      sync.Mutex
	state   uint8       // guarded by mu
	closed  bool        // guarded by mu: Close ran; never parks again
	m       *game.Match // guarded by mu: the match the loop parked for, and its handle and pid
	h       MatchHandle
	pid     uint32
	carry   []byte // guarded by mu: an incomplete frame read at a tick, completed at a later one
	pending []byte // guarded by mu: bytes handed back, for the read loop
	pendErr error  // guarded by mu: the read error that ended tick mode, after pending
	polled  bool   // guarded by mu: the match called PreTick since the watchdog last looked
	idle    int    // guarded by mu: polls in a row that read nothing
	missed  int    // guarded by mu: watchdog rounds without a poll

	// The poll's read (match goroutine, under mu): method values made once (no allocation).
	rb     []byte
	rn     int
	rerr   syscall.Errno
	recvFn func(fd uintptr)
	lowat  int32
	lowFn  func(fd uintptr)
}

const (
	tickOff uint8 = iota
	tickParked
)

// tickLowat is SO_RCVLOWAT while parked (an input frame is ~30 bytes), and tickBuf the most
// one poll reads: a poll that fills it hands the rest of the stream back to gws (a flood is
// then read, paid for and closed by the read loop, as always).
const (
	tickLowat = 4096
	tickBuf   = 4096
)

// tickIdlePolls is how many polls in a row that read nothing hand a parked member back to its
// read loop (0.8 s at 20 Hz): a player that only sends now and then (a turn, a chat line) costs
// at most that many reads per message, and one that never sends after its JOIN never parks.
const tickIdlePolls = 16

var tickScratch = sync.Pool{New: func() any { return new([tickBuf]byte) }}

func newTickReader(c *rawReadConn) *tickReader {
	t := &tickReader{c: c, wake: make(chan struct{}, 1)}
	t.recvFn, t.lowFn = t.recvOnce, t.setLowat
	return t
}

// park is called by the read loop in Read when gws stands between two frames. It parks when
// the session plays in a running local match and has sent an INPUT since it last parked (a
// member that only answers pings is not worth polling), until the tick reader hands back; it
// reports whether it parked (then the caller returns what was handed back first).
func (t *tickReader) park() bool {
	s := t.s
	if s == nil || !s.tickWant {
		return false
	}
	s.tickWant = false
	h, m, pid := s.tickMatch()
	if m == nil {
		return false
	}
	t.lowat = tickLowat
	_ = t.c.rc.Control(t.lowFn)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		t.lowat = 1
		_ = t.c.rc.Control(t.lowFn)
		return false
	}
	t.state, t.m, t.h, t.pid, t.polled, t.missed, t.idle = tickParked, m, h, pid, true, 0, 0
	t.parked.Store(true)
	t.mu.Unlock()
	s.srv.tickWatch.add(t)
	s.srv.metrics.tickParks.Inc()
	// The match may have changed between tickMatch and parking; whoever changed it handed
	// back before we parked (and found nothing), so look again (tickRelease is idempotent).
	if _, m2, pid2 := s.tickMatch(); m2 != m || pid2 != pid {
		t.release()
	}
	<-t.wake
	s.srv.tickWatch.remove(t)
	t.lowat = 1 // lowering it signals data already queued; the read that follows reads anyway
	_ = t.c.rc.Control(t.lowFn)
	t.mu.Lock()
	t.c.pend, t.c.pendOff, t.c.pendErr = t.pending, 0, t.pendErr
	t.pending, t.pendErr = nil, nil
	t.mu.Unlock()
	t.c.drained = false // read before waiting: no readiness edge may have come for queued bytes
	return true
}

// release hands back from any goroutine (the session's match changed, the watchdog).
func (t *tickReader) release() {
	t.mu.Lock()
	t.handBack(t.carry, nil)
	t.mu.Unlock()
}

// close is Close's: tick mode ends for good.
func (t *tickReader) close() {
	t.mu.Lock()
	t.closed = true
	t.handBack(nil, nil)
	t.mu.Unlock()
}

// handBack (mu held) ends tick mode: rest (copied) and then err go to gws before the socket.
func (t *tickReader) handBack(rest []byte, err error) {
	if t.state != tickParked {
		return
	}
	if len(rest) > 0 {
		t.pending = append([]byte(nil), rest...)
	}
	t.pendErr = err
	t.carry = t.carry[:0]
	t.state, t.m, t.h = tickOff, nil, nil
	t.parked.Store(false)
	t.wake <- struct{}{} // buffered 1: one hand-back per park
	t.s.srv.metrics.tickHandBacks.Inc()
}

func (t *tickReader) recvOnce(fd uintptr) {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&t.rb[0])), uintptr(len(t.rb)))
		if e == syscall.EINTR {
			continue
		}
		t.rn, t.rerr = int(r), e
		return
	}
}

func (t *tickReader) setLowat(fd uintptr) {
	_, _, _ = syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT,
		uintptr(unsafe.Pointer(&t.lowat)), 4, 0)
}

// tickMatch is the session's match when its socket may be read by it: a local match that is
// running, of a session that is not closing.
func (s *session) tickMatch() (MatchHandle, *game.Match, uint32) {
	s.mu.Lock()
	h, pid, off := s.match, s.pid, s.closing || s.gone
	s.mu.Unlock()
	lh, ok := h.(localHandle)
	if !ok || off {
		return nil, nil, 0
	}
	select {
	case <-lh.m.Done():
		return nil, nil, 0
	default:
	}
	return h, lh.m, pid
}

// tickRelease hands the socket back to the read loop (the session's match changed).
func (s *session) tickRelease() {
	if s.tick != nil {
		s.tick.release()
	}
}

// PreTick implements game.PreTicker: on m's goroutine, before m drains its inbox.
func (s *session) PreTick(m *game.Match) {
	t := s.tick
	if t == nil || !t.parked.Load() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != tickParked || t.m != m {
		return // parked for another match (this one has not processed our leave yet)
	}
	t.polled = true
	if _, cur, pid := s.tickMatch(); cur != m || pid != t.pid {
		t.handBack(t.carry, nil)
		return
	}
	buf := tickScratch.Get().(*[tickBuf]byte)
	defer tickScratch.Put(buf)
	b := buf[:]
	k := copy(b, t.carry)
	if k == len(b) { // cannot happen: a kept frame is shorter than the buffer
		t.handBack(t.carry, nil)
		return
	}
	t.rb, t.rn, t.rerr = b[k:], 0, 0
	cerr := t.c.rc.Control(t.recvFn)
	t.rb = nil
	n, errno := t.rn, t.rerr
	var rerr error
	switch {
	case cerr != nil: // closed: Close hands back itself; the read loop sees the error
		n = 0
	case errno == syscall.EAGAIN:
		n = 0
	case errno != 0:
		n, rerr = 0, &net.OpError{Op: "read", Net: "tcp", Source: t.c.LocalAddr(), Addr: t.c.RemoteAddr(), Err: os.NewSyscallError("read", errno)}
	case n == 0:
		rerr = io.EOF
	}
	got := k + n
	now := time.Now()
	frames := 0
	off, back := scanFrames(b[:got], s.srv.cfg.MaxFrame, len(b), func(h wsHeader, p []byte) bool {
		if h.op == wsPong {
			s.pong()
			frames++
			return true
		}
		if protocol.DecodeClient(p, &s.dec) != nil || s.dec.Op != protocol.OpInput || !s.limiter.AllowN(now, 1) {
			return false // gws decodes it again and answers (an error, a refusal) as always
		}
		s.warned = false
		frames++
		s.input(t.h, t.pid, &s.dec)
		return true
	})
	if frames > 0 {
		s.srv.metrics.tickFrames.Add(float64(frames))
		s.touch()
	}
	if n == 0 {
		t.idle++
	} else {
		t.idle = 0
	}
	switch {
	case back || rerr != nil || cerr != nil || k+n == len(b):
		t.handBack(b[off:got], rerr)
	case frames == 0 && t.deadlinePassed(now):
		t.handBack(b[off:got], nil) // gws's read then reports the deadline
	case t.idle >= tickIdlePolls:
		// A member that sends nothing would cost a read(2) finding nothing every tick: back
		// to the netpoller, which costs nothing while it is silent; its next frame parks it again.
		t.handBack(b[off:got], nil)
	default:
		t.carry = append(t.carry[:0], b[off:got]...)
	}
}

func (t *tickReader) deadlinePassed(now time.Time) bool {
	d := t.deadline.Load()
	return d != 0 && now.UnixNano() >= d
}

// scanFrames walks the frames at the start of b. Each complete frame the tick reader may
// handle (wsHeader.mine) has its payload unmasked in place and is given to visit; when visit
// returns false the frame is masked again (b is then as it came from that frame on) and the
// walk stops. It returns the offset of the first byte not consumed and whether the rest must
// be handed back to gws (a frame that is not the tick reader's, one visit refused, or an
// incomplete frame longer than room); otherwise the rest is an incomplete frame to keep.
func scanFrames(b []byte, maxFrame, room int, visit func(h wsHeader, payload []byte) bool) (int, bool) {
	off := 0
	for off < len(b) {
		h, ok := parseWSHeader(b[off:])
		if !ok {
			return off, false // an incomplete header (at most 13 bytes)
		}
		if !h.mine(maxFrame) {
			return off, true
		}
		total := h.hdr + int(h.n) // h.n ≤ maxFrame here
		if len(b)-off < total {
			return off, total > room
		}
		p := b[off+h.hdr : off+total]
		maskWS(p, h.key)
		if !visit(h, p) {
			maskWS(p, h.key)
			return off, true
		}
		off += total
	}
	return off, false
}

// pong is a pong's handling (OnPong), on the read loop or in tick mode.
func (s *session) pong() {
	s.touch()
	if at := s.pingAt.Swap(0); at != 0 {
		s.rtt.Store(time.Now().UnixNano() - at)
	}
}
