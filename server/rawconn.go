package server

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// rawReadConn is a hijacked TCP connection whose reads do not take the Go scheduler's
// system-call path. net.TCPConn.Read makes read(2) through syscall.Read, i.e. between
// entersyscall and exitsyscall: while a read is in the kernel its P is marked as in a system
// call, and the runtime's monitor thread may take the P away and wake another thread to run it
// (and it wakes more often itself while it sees system calls). A non-blocking read on a socket
// never blocks, so rawReadConn makes it with syscall.RawSyscall inside RawConn.Read: when the
// socket is empty (EAGAIN) the goroutine parks on the netpoller exactly as net.TCPConn's Read
// does (same deadlines, same close behaviour); otherwise no scheduler work happens at all.
//
// gws reads a connection only through its 1 KiB bufio.Reader, so each read(2) asks for up to
// that much: frames that arrived together are taken in one call.
type rawReadConn struct {
	*net.TCPConn
	rc syscall.RawConn

	// The read in progress, for readFn (a method value made once: a closure per Read would
	// be a heap allocation per frame). Only the connection's one reader uses them.
	p      []byte
	n      int
	errno  syscall.Errno
	readFn func(fd uintptr) bool

	// Waiting before reading when the socket is known drained (pollwait.go).
	pollCtx uintptr // the descriptor's netpoller handle; 0: read as net.TCPConn does
	drained bool    // the last read took less than it asked for
	waitFn  func(fd uintptr)
	eagain  int // reads that found the socket empty (tests)

	// The tick reader (tickread.go; nil: off). Read loop only: fr follows the frames handed to
	// gws; pend[pendOff:] and then pendErr are what a hand-back gave, returned before the socket.
	tick    *tickReader
	fr      frameTracker
	pend    []byte
	pendOff int
	pendErr error
}

// newRawReadConn wraps nc when it is a plain TCP connection (not TLS, not a test pipe); with
// tick, its read loop may hand its reads to its match (tickread.go).
func newRawReadConn(nc net.Conn, tick bool) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	c := &rawReadConn{TCPConn: tc, rc: rc}
	c.readFn, c.waitFn = c.readOnce, c.waitReadable
	_ = rc.Control(func(fd uintptr) { c.pollCtx = pollCtxOf(tc, fd) })
	if tick {
		c.tick = newTickReader(c)
	}
	return c
}

func (c *rawReadConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.tick == nil {
		return c.read(p)
	}
	if n, err, ok := c.fromPending(p); ok {
		return n, err
	}
	// gws's bufio reads only when it holds nothing: between two frames, nothing of a frame is
	// waiting in gws, and the match may read the socket until it hands back.
	if c.fr.atBoundary() && c.tick.park() {
		if n, err, ok := c.fromPending(p); ok {
			return n, err
		}
	}
	n, err := c.read(p)
	c.fr.feed(p[:n])
	return n, err
}

// fromPending returns what a hand-back gave, first its bytes, then its error; ok false when
// nothing is left of it.
func (c *rawReadConn) fromPending(p []byte) (n int, err error, ok bool) {
	if c.pendOff < len(c.pend) {
		n = copy(p, c.pend[c.pendOff:])
		c.pendOff += n
		if c.pendOff == len(c.pend) {
			c.pend, c.pendOff = nil, 0
		}
		c.fr.feed(p[:n])
		return n, nil, true
	}
	if c.pendErr != nil {
		err, c.pendErr = c.pendErr, nil
		return 0, err, true
	}
	return 0, nil, false
}

// Close closes the connection and wakes a read loop parked for its match.
func (c *rawReadConn) Close() error {
	err := c.TCPConn.Close()
	if c.tick != nil {
		c.tick.close()
	}
	return err
}

// SetReadDeadline and SetDeadline also tell the tick reader, which hands back once the
// deadline has passed (gws's read then reports it, as always).
func (c *rawReadConn) SetReadDeadline(t time.Time) error {
	c.noteDeadline(t)
	return c.TCPConn.SetReadDeadline(t)
}

func (c *rawReadConn) SetDeadline(t time.Time) error {
	c.noteDeadline(t)
	return c.TCPConn.SetDeadline(t)
}

func (c *rawReadConn) noteDeadline(t time.Time) {
	if c.tick == nil {
		return
	}
	if t.IsZero() {
		c.tick.deadline.Store(0)
	} else {
		c.tick.deadline.Store(t.UnixNano())
	}
}

// read is one read as net.TCPConn's, outside the scheduler's system-call path.
func (c *rawReadConn) read(p []byte) (int, error) {
	if c.drained && c.pollCtx != 0 {
		// Wait first: the read below then finds data instead of EAGAIN. Errors (closed, the
		// deadline) are not looked at here: RawConn.Read reports them.
		_ = c.rc.Control(c.waitFn)
	}
	c.p, c.n, c.errno = p, 0, 0
	err := c.rc.Read(c.readFn)
	n, errno := c.n, c.errno
	c.p = nil // do not keep the caller's buffer
	c.drained = err == nil && errno == 0 && n > 0 && n < len(p)
	switch {
	case err != nil: // closed, or the read deadline passed (os.ErrDeadlineExceeded)
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: unwrapOp(err)}
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", errno)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// readOnce is RawConn.Read's function: one read(2) into c.p; false (wait on the netpoller,
// then try again) when the socket is empty.
func (c *rawReadConn) readOnce(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.p[0])), uintptr(len(c.p)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			c.eagain++
			return false
		}
		c.n, c.errno = int(r), e
		return true
	}
}

// waitReadable parks until the socket has had a readiness edge since the last wait (at once
// if one came already), its read deadline passed, or it is closed; RawConn.Control holds the
// descriptor open meanwhile, so Close wakes the wait instead of freeing what it waits on.
func (c *rawReadConn) waitReadable(uintptr) {
	runtimePollWait(c.pollCtx, 'r')
}

// unwrapOp takes the error out of RawConn's "raw-read" OpError, so callers see the usual one.
func unwrapOp(err error) error {
	if oe, ok := err.(*net.OpError); ok {
		return oe.Err
	}
	return err
}

// rawWrite is one write(2) with syscall.RawSyscall, for the writer's non-blocking fast path
// (see rawReadConn for why: a write to a non-blocking socket never blocks, so the scheduler's
// system-call bookkeeping is pure cost).
func rawWrite(fd uintptr, b []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	return int(r), e
}
