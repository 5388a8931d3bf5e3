//go:build linux

package loadgen

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"syscall"

	"github.com/tickrelay/tickrelay/protocol"
)

// pool serves many epoll clients from one goroutine: an epoll loop over their sockets with
// non-blocking raw system calls (read, write: syscall.RawSyscall, outside the scheduler's
// syscall path; only the blocking epoll wait goes through it), and the send schedule of
// wheel.go bounding its waits. No goroutine, timer or channel per client: a received frame
// costs one read(2) (a short read means the socket is drained: no read to find EAGAIN), an
// input one write(2). The frames are handled by the same client code as the gws clients'
// (receive: count, peek or decode), so the messages on the wire and what is measured are the
// same; only the cost of the load generator differs.
type pool struct {
	r      *run
	s      *sender // the schedule and its late/skipped counters
	epfd   int
	conns  []*pconn // by the index stored in the epoll event
	evs    []syscall.EpollEvent
	pay    []byte
	frame  []byte
	rng    *rand.Rand
	pwait2 bool
	onPass func() // tests only (nil in runs): called after each pass of the loop that handled socket events
}

// pconn is one client's socket in a pool (pool goroutine only, once the loop runs).
type pconn struct {
	c       *client
	fd      int
	idx     int32
	in      []byte // read, not yet parsed
	out     []byte // not yet written (a write that did not go out whole)
	re      reassembler
	dead    bool
	wantOut bool
}

// pollEvents: edge-triggered. An event comes when data arrives; read reads until a short read
// or EAGAIN (a short read means the socket was drained then: later data is a new edge). Level-
// triggered, epoll polled every socket that had data once more at the next wait (sock_poll
// was 6% of a profile).
const pollEvents = uint32(syscall.EPOLLIN|syscall.EPOLLRDHUP) | 1<<31 // EPOLLET (negative in package syscall)

// A pass of the loop sends at most sendBatch inputs and handles at most len(evs) socket
// events: when the load generator is behind, sending and reading take turns.
const sendBatch = 128

// maxQueued bounds a client's unsent output; past it the connection is given up (counted).
const maxQueued = 1 << 20

const havePool = true

var errSendQueue = errors.New("send queue over 1 MiB: the server does not read")

func newPool(r *run) (*pool, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	return &pool{r: r, s: &sender{r: r}, epfd: fd, evs: make([]syscall.EpollEvent, 512),
		rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), pwait2: true}, nil
}

// add takes over c's socket after its setup (c joined): from now on only the pool reads and
// writes it. sends: whether c sends inputs.
func (p *pool) add(c *client, sends bool) error {
	fd, rest, err := c.setup.detach()
	if err != nil {
		return err
	}
	pc := &pconn{c: c, fd: fd, idx: int32(len(p.conns)), in: make([]byte, 0, 4096)}
	pc.in = append(pc.in, rest...)
	if e := rawEpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, pollEvents, pc.idx); e != 0 {
		rawClose(fd)
		return fmt.Errorf("epoll_ctl: %w", e)
	}
	c.setup, c.pc = nil, pc
	p.conns = append(p.conns, pc)
	if sends {
		p.s.clients = append(p.s.clients, c)
	}
	return nil
}

// loop runs until stop is closed: sends what is due, waits for the sockets or the next due
// input (at most 10 ms, to notice stop), handles what arrived.
func (p *pool) loop(stop <-chan struct{}) {
	p.s.prime(p.r.now(), int64(p.r.cfg.Interval))
	for _, pc := range p.conns { // bytes read during setup, after JOINED
		if len(pc.in) > 0 {
			p.frames(pc)
		}
	}
	p.passed()
	for {
		select {
		case <-stop:
			return
		default:
		}
		next := p.s.runDue(p.r.now, p.send, sendBatch)
		wait := min(max(next-p.r.now(), 0), 10_000_000)
		n, e := rawEpollWait(p.epfd, p.evs, wait, &p.pwait2)
		if e != 0 {
			if e == syscall.EINTR {
				continue
			}
			p.r.countErr("epoll_wait: " + e.Error())
			return
		}
		for i := range n {
			ev := &p.evs[i]
			pc := p.conns[ev.Fd]
			if ev.Events&syscall.EPOLLOUT != 0 && !pc.dead {
				p.flush(pc)
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLERR|syscall.EPOLLHUP|syscall.EPOLLRDHUP) != 0 && !pc.dead {
				p.read(pc)
			}
		}
		if n > 0 {
			p.passed()
		}
	}
}

func (p *pool) passed() {
	if p.onPass != nil {
		p.onPass()
	}
}

// read reads until a short read (the socket is drained) or EAGAIN, and handles the frames.
func (p *pool) read(pc *pconn) {
	for {
		if cap(pc.in)-len(pc.in) < 1024 {
			grown := make([]byte, len(pc.in), 2*cap(pc.in)+1024)
			copy(grown, pc.in)
			pc.in = grown
		}
		buf := pc.in[len(pc.in):cap(pc.in)]
		n, e := rawRead(pc.fd, buf)
		switch {
		case e == syscall.EAGAIN:
			return
		case e == syscall.EINTR:
			continue
		case e != 0:
			p.lose(pc, e)
			return
		case n == 0:
			p.lose(pc, io.EOF)
			return
		}
		pc.in = pc.in[:len(pc.in)+n]
		if !p.frames(pc) || n < len(buf) {
			return
		}
	}
}

// frames handles every complete frame in pc.in and keeps the rest; false if pc was lost.
func (p *pool) frames(pc *pconn) bool {
	off := 0
	for {
		f, ok, err := parseFrame(pc.in[off:])
		if err != nil {
			p.lose(pc, err)
			return false
		}
		if !ok {
			break
		}
		off += f.size
		switch f.op {
		case wsPing:
			p.frame = appendClientFrame(p.frame[:0], wsPong, f.payload, p.rng.Uint32())
			if !p.write(pc, p.frame) {
				return false
			}
			continue
		case wsPong:
			continue
		case wsClose:
			p.lose(pc, closeFrameErr(f.payload))
			return false
		}
		msg, err := pc.re.add(f)
		if err != nil {
			p.lose(pc, err)
			return false
		}
		pc.c.wireIn.Add(int64(f.size))
		if msg != nil {
			pc.c.receive(msg, p.r.now())
		}
	}
	pc.in = pc.in[:copy(pc.in, pc.in[off:])]
	if cap(pc.in) > 64<<10 && len(pc.in) < 4096 { // a large message passed: give the memory back
		pc.in = append(make([]byte, 0, 4096), pc.in...)
	}
	return true
}

// send writes c's next INPUT [4, seq, seen, [dx, dy]] and returns its send time.
func (p *pool) send(c *client) int64 {
	pc := c.pc
	if pc == nil || pc.dead || c.closing.Load() {
		return c.due
	}
	c.seq++
	c.pay++
	p.pay = protocol.AppendInput(p.pay[:0], c.seq, c.lastTick.Load(), payloads[c.pay%len(payloads)])
	p.frame = appendClientFrame(p.frame[:0], wsBinary, p.pay, p.rng.Uint32())
	ts := p.r.now()
	c.stamp(ts)
	if p.write(pc, p.frame) {
		c.msgsOut.Add(1)
		c.bytesOut.Add(int64(len(p.pay)))
	}
	return ts
}

// write sends b now, or queues what did not go out (and asks for EPOLLOUT).
func (p *pool) write(pc *pconn, b []byte) bool {
	if len(pc.out) > 0 {
		if len(pc.out)+len(b) > maxQueued {
			p.lose(pc, errSendQueue)
			return false
		}
		pc.out = append(pc.out, b...)
		return true
	}
	n, e := rawWrite(pc.fd, b)
	for e == syscall.EINTR {
		n, e = rawWrite(pc.fd, b)
	}
	if e == syscall.EAGAIN {
		n, e = 0, 0
	}
	if e != 0 {
		p.lose(pc, e)
		return false
	}
	if n < len(b) {
		pc.out = append(pc.out[:0], b[n:]...)
		p.want(pc, true)
	}
	return true
}

func (p *pool) flush(pc *pconn) {
	for len(pc.out) > 0 {
		n, e := rawWrite(pc.fd, pc.out)
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return
		case e != 0:
			p.lose(pc, e)
			return
		}
		pc.out = pc.out[:copy(pc.out, pc.out[n:])]
	}
	p.want(pc, false)
}

func (p *pool) want(pc *pconn, out bool) {
	if pc.wantOut == out {
		return
	}
	pc.wantOut = out
	ev := pollEvents
	if out {
		ev |= syscall.EPOLLOUT
	}
	if e := rawEpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, pc.fd, ev, pc.idx); e != 0 {
		p.lose(pc, e)
	}
}

// lose closes pc after an error, EOF or the server's CLOSE: a drop unless we were closing.
func (p *pool) lose(pc *pconn, err error) {
	if pc.dead {
		return
	}
	pc.dead = true
	_ = rawEpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, pc.fd, 0, pc.idx)
	rawClose(pc.fd)
	if !pc.c.closing.Load() {
		p.r.dropped(pc.c, err)
	}
}

// closeAll closes every connection still open (CLOSE 1000, then the socket) and the epoll
// descriptor. Only after loop has returned.
func (p *pool) closeAll() {
	for _, pc := range p.conns {
		pc.c.closing.Store(true)
		if !pc.dead {
			p.frame = appendClientFrame(p.frame[:0], wsClose, []byte{0x03, 0xe8}, p.rng.Uint32())
			_, _ = rawWrite(pc.fd, p.frame)
			pc.dead = true
			rawClose(pc.fd)
		}
	}
	rawClose(p.epfd)
}
