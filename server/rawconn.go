package server

import (
	"io"
	"net"
	"os"
	"syscall"
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
}

// newRawReadConn wraps nc when it is a plain TCP connection (not TLS, not a test pipe).
func newRawReadConn(nc net.Conn) net.Conn {
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
	return c
}

func (c *rawReadConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
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
