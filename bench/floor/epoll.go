//go:build linux

package floor

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// EpollServer is the real floor: the same connections, HTTP answers and message pattern as
// Server (the gws floor), served by ONE goroutine with an epoll loop and raw system calls
// (epoll_pwait2, accept4, read, write; syscall.RawSyscall, so the Go scheduler is never
// involved), a minimal HTTP/1.1 and WebSocket (RFC 6455) of its own, and no goroutine, timer,
// channel or lock per connection. Match ticks are deadlines in a heap that bound the epoll wait.
// What it costs is what the kernel's TCP, the loopback and one thread's sleeps and wake-ups
// cost, plus a few byte appends per message: nothing a server in Go can avoid.
//
// Run it with GOMAXPROCS=1 (cmd/floor --epoll does): the process then has the loop's thread
// and the runtime's monitor thread, and nothing else to wake.
//
// Bounded like the gws floor: a connection's unsent output is capped (MaxOutput, then it is
// closed), inbound frames are capped (Config.ReadLimit), request heads and bodies too.
type EpollServer struct {
	cfg   Config
	lfd   int
	epfd  int
	addr  string
	start time.Time

	conns   []*econn     // by fd
	nconns  atomic.Int64 // read by Conns from other goroutines
	matches map[string]*ematch
	due     dueHeap
	nmatch  int
	guests  uint64
	ids     uint64

	welcome []byte
	ticks   tickHist
	scratch []byte // read buffer
	wbuf    []byte // framing buffer
	events  []syscall.EpollEvent
	pwait2  bool
}

// MaxOutput is the most output an epoll-floor connection may have waiting for its socket.
const MaxOutput = 1 << 20

const (
	evIn    = syscall.EPOLLIN | syscall.EPOLLRDHUP
	evInOut = evIn | syscall.EPOLLOUT
)

// econn is one connection: HTTP until it upgrades, then WebSocket.
type econn struct {
	fd      int
	ws      bool
	in      []byte // unparsed input: a partial request or frame
	out     []byte // output the socket did not take yet
	polling bool   // EPOLLOUT registered
	closing bool   // close once out is written (HTTP Connection: close)

	m       *ematch
	pid     uint32
	lastSeq uint32 // the last INPUT seq received
	ackSent uint32
}

// ListenEpoll opens the listening socket on addr (loopback only).
func ListenEpoll(addr string, cfg Config) (*EpollServer, error) {
	cfg.defaults()
	ta, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	if !ta.IP.IsLoopback() {
		return nil, fmt.Errorf("epoll floor: %s is not a loopback address", addr)
	}
	lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	_ = syscall.SetsockoptInt(lfd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	sa := &syscall.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	if err := syscall.Bind(lfd, sa); err != nil {
		syscall.Close(lfd)
		return nil, err
	}
	if err := syscall.Listen(lfd, 4096); err != nil {
		syscall.Close(lfd)
		return nil, err
	}
	got, err := syscall.Getsockname(lfd)
	if err != nil {
		syscall.Close(lfd)
		return nil, err
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		syscall.Close(lfd)
		return nil, err
	}
	s := &EpollServer{cfg: cfg, lfd: lfd, epfd: epfd, start: time.Now(), matches: map[string]*ematch{},
		welcome: welcomeFrame(), scratch: make([]byte, 64*1024), events: make([]syscall.EpollEvent, 256), pwait2: true}
	a := got.(*syscall.SockaddrInet4)
	s.addr = fmt.Sprintf("%d.%d.%d.%d:%d", a.Addr[0], a.Addr[1], a.Addr[2], a.Addr[3], a.Port)
	if e := rawEpollCtl(epfd, syscall.EPOLL_CTL_ADD, lfd, syscall.EPOLLIN); e != 0 {
		s.Close()
		return nil, e
	}
	return s, nil
}

// Addr is the address it listens on.
func (s *EpollServer) Addr() string { return s.addr }

// Close closes every connection, the listener and the epoll instance. Call it after Run returned.
func (s *EpollServer) Close() {
	for _, c := range s.conns {
		if c != nil {
			s.drop(c)
		}
	}
	rawClose(s.lfd)
	rawClose(s.epfd)
}

// Conns is the number of open connections (HTTP and WebSocket).
func (s *EpollServer) Conns() int { return int(s.nconns.Load()) }

// Run serves until stop returns true (it is asked at least every 100 ms). All of the server
// runs on the calling goroutine.
func (s *EpollServer) Run(stop func() bool) error {
	lastYield := time.Now()
	for !stop() {
		now := time.Now()
		wait := int64(100 * time.Millisecond)
		if len(s.due) > 0 {
			wait = min(wait, max(0, int64(s.due[0].next.Sub(now))))
		}
		n, e := rawEpollWait(s.epfd, s.events, wait, &s.pwait2)
		if e != 0 && e != syscall.EINTR {
			return fmt.Errorf("epoll_wait: %w", e)
		}
		for i := 0; i < n; i++ {
			ev := s.events[i]
			fd := int(ev.Fd)
			if fd == s.lfd {
				s.acceptAll()
				continue
			}
			c := s.conn(fd)
			if c == nil {
				continue
			}
			if ev.Events&syscall.EPOLLOUT != 0 {
				s.flush(c)
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 && s.conn(fd) == c {
				s.readable(c)
			}
		}
		now = time.Now()
		for len(s.due) > 0 && !s.due[0].next.After(now) {
			m := s.due[0]
			s.tickOnce(m, now)
			for !m.next.After(now) {
				m.next = m.next.Add(s.cfg.Tick) // a late tick is skipped, like time.Ticker
			}
			heap.Fix(&s.due, 0)
		}
		// Let the runtime's monitor see the goroutine reschedule: otherwise it preempts it with
		// a signal every 10 ms (it looks like one goroutine running forever).
		if now.Sub(lastYield) > 5*time.Millisecond {
			runtime.Gosched()
			lastYield = time.Now()
		}
	}
	return nil
}

func (s *EpollServer) conn(fd int) *econn {
	if fd < 0 || fd >= len(s.conns) {
		return nil
	}
	return s.conns[fd]
}

func (s *EpollServer) acceptAll() {
	for {
		fd, e := rawAccept(s.lfd)
		if e == syscall.EAGAIN || e == syscall.EINTR || e == syscall.ECONNABORTED {
			if e == syscall.EAGAIN {
				return
			}
			continue
		}
		if e != 0 {
			return // EMFILE and friends: the backlog waits; the next event retries
		}
		rawNoDelay(fd)
		if e := rawEpollCtl(s.epfd, syscall.EPOLL_CTL_ADD, fd, evIn); e != 0 {
			rawClose(fd)
			continue
		}
		for fd >= len(s.conns) {
			s.conns = append(s.conns, make([]*econn, len(s.conns)+64)...)
		}
		s.conns[fd] = &econn{fd: fd}
		s.nconns.Add(1)
	}
}

// readable reads what the socket has: one read(2) into a 64 KiB buffer almost always takes it
// all (a short read means the socket is drained, so no read is made to find EAGAIN).
func (s *EpollServer) readable(c *econn) {
	for {
		n, e := rawRead(c.fd, s.scratch)
		if e == syscall.EAGAIN || e == syscall.EINTR {
			return
		}
		if e != 0 || n == 0 {
			s.drop(c)
			return
		}
		data := s.scratch[:n]
		if len(c.in) > 0 {
			c.in = append(c.in, data...)
			data = c.in
		}
		var used int
		var err error
		if c.ws {
			used, err = s.frames(c, data)
		} else {
			used, err = s.requests(c, data)
		}
		if err != nil || s.conn(c.fd) != c {
			if s.conn(c.fd) == c {
				s.drop(c)
			}
			return
		}
		rest := data[used:]
		if len(c.in) > 0 { // data is c.in: move the rest to its front
			c.in = c.in[:copy(c.in, rest)]
		} else if len(rest) > 0 {
			c.in = append(c.in, rest...)
		}
		if n < len(s.scratch) {
			return
		}
	}
}

// send frames payload parts as one binary (or op) message and writes it.
func (s *EpollServer) send(c *econn, op byte, parts ...[]byte) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := s.wbuf[:0]
	b = append(b, 0x80|op)
	switch {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	for _, p := range parts {
		b = append(b, p...)
	}
	s.wbuf = b
	s.write(c, b)
}

// write writes b now if nothing is waiting and the socket takes it; the rest waits for EPOLLOUT.
func (s *EpollServer) write(c *econn, b []byte) {
	if len(c.out) == 0 {
		for len(b) > 0 {
			n, e := rawWrite(c.fd, b)
			if e == syscall.EINTR {
				continue
			}
			if e == syscall.EAGAIN {
				break
			}
			if e != 0 {
				s.drop(c)
				return
			}
			b = b[n:]
		}
		if len(b) == 0 {
			if c.closing {
				s.drop(c)
			}
			return
		}
	}
	if len(c.out)+len(b) > MaxOutput {
		s.drop(c) // a client that does not read
		return
	}
	c.out = append(c.out, b...)
	if !c.polling {
		c.polling = true
		_ = rawEpollCtl(s.epfd, syscall.EPOLL_CTL_MOD, c.fd, evInOut)
	}
}

// flush writes waiting output once the socket is writable again.
func (s *EpollServer) flush(c *econn) {
	for len(c.out) > 0 {
		n, e := rawWrite(c.fd, c.out)
		if e == syscall.EINTR {
			continue
		}
		if e == syscall.EAGAIN {
			return
		}
		if e != 0 {
			s.drop(c)
			return
		}
		c.out = c.out[:copy(c.out, c.out[n:])]
	}
	c.out = nil
	if c.polling {
		c.polling = false
		_ = rawEpollCtl(s.epfd, syscall.EPOLL_CTL_MOD, c.fd, evIn)
	}
	if c.closing {
		s.drop(c)
	}
}

// drop closes c and takes it out of its match.
func (s *EpollServer) drop(c *econn) {
	if s.conn(c.fd) != c {
		return
	}
	if c.m != nil {
		c.m.leave(c)
		c.m = nil
	}
	s.conns[c.fd] = nil
	s.nconns.Add(-1)
	rawClose(c.fd) // closing also removes it from the epoll set
}

var errProtocol = errors.New("epoll floor: protocol error")

// ---- match deadlines ----

// dueHeap orders matches by their next tick.
type dueHeap []*ematch

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(*ematch)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// firstTick is a new match's first tick: the next instant ≡ its stagger offset (mod the tick)
// since the server started, the offset being frac(i × golden ratio) of the interval, as in the
// gws floor.
func (s *EpollServer) firstTick(now time.Time) time.Time {
	_, frac := math.Modf(float64(s.nmatch) * 0.6180339887498949)
	s.nmatch++
	tick := s.cfg.Tick
	off := time.Duration(frac * float64(tick))
	since := now.Sub(s.start)
	next := since - since%tick + off
	if next <= since {
		next += tick
	}
	return s.start.Add(next)
}
