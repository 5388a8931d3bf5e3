package server

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lxzan/gws"
)

// writer is a session's one writer: an outbound queue bounded in bytes.
//
// The fast path writes from the caller's goroutine (the match, once per tick): when nothing is
// queued, enqueue frames the message itself and makes one non-blocking write(2) on the socket.
// The kernel almost always takes it whole, and then no other goroutine is involved — the same
// cost as a transport that writes from its tick loop. If the kernel takes only part (its buffer
// is full) or the socket is busy, the rest is queued and a writer goroutine, which exists only
// while there is something queued, finishes it with an ordinary blocking write with a deadline.
// enqueue never blocks.
//
// A client that does not read makes that goroutine's write block; once a write has been blocked
// for WriteTimeout, or the queue would exceed its byte cap, the session is closed with CloseSlow
// and nothing more is queued: a slow client is disconnected, never silently skipped.
//
// Every data, ping and pong frame goes through the writer, so exactly one goroutine writes the
// socket at a time (the one that set running). gws writes on its own only when the connection
// is closing (close frames).
//
// Locking: mu guards q, bytes, running, closed. Nobody holds mu while writing.
type writer struct {
	conn    *gws.Conn
	raw     syscall.RawConn // nil: every frame goes through gws (compression on)
	nc      net.Conn
	max     int
	timeout time.Duration
	onSlow  func() // called once, without locks held, when the client is too slow

	mu      sync.Mutex
	q       []outFrame
	spare   []outFrame
	bytes   int
	running bool // someone (the fast path or the writer goroutine) owns the socket
	closed  bool

	buf          []byte       // framing buffer, used by whoever owns the socket
	blockedSince atomic.Int64 // unix nanos when the current blocking write started; 0 when not writing
	slowOnce     sync.Once
	deadline     time.Time // the socket write deadline last set (socket owner only)

	// The fast path's write in progress, for writeFn (a method value made once: a closure per
	// write would be a heap allocation per frame). Socket owner only.
	wb      []byte
	wn      int
	werr    error
	writeFn func(fd uintptr) bool
}

// outFrame is one queued message: either a message to frame (shared bytes, never copied, plus
// a small tail copied inline, so queueing a typical delta does not allocate), or bytes already
// framed (the rest of a partial fast-path write), or a close.
type outFrame struct {
	shared []byte
	tail   [8]byte
	tailN  int8 // -1: the tail is in big
	big    []byte
	op     byte   // 0: binary data; gws.OpcodePing/OpcodePong: a control frame of shared
	framed []byte // already framed bytes (written as they are)
	close  uint16 // a close frame with this code instead of data
	reason string
}

func (f *outFrame) tailBytes() []byte {
	if f.tailN < 0 {
		return f.big
	}
	return f.tail[:f.tailN]
}

func (f *outFrame) size() int { return len(f.shared) + len(f.tailBytes()) + len(f.framed) }

func newWriter(conn *gws.Conn, max int, timeout time.Duration, compression bool, onSlow func()) *writer {
	w := &writer{conn: conn, nc: conn.NetConn(), max: max, timeout: timeout, onSlow: onSlow}
	if sc, ok := w.nc.(syscall.Conn); ok && !compression {
		if rc, err := sc.SyscallConn(); err == nil {
			w.raw = rc
		}
	}
	w.writeFn = w.writeOnce
	return w
}

// enqueue sends shared+tail as one binary message; tail is copied. It reports false when the
// session is closed or was just closed for being slow.
func (w *writer) enqueue(shared, tail []byte) bool {
	return w.push(0, shared, tail)
}

// enqueueQueued is enqueue without the fast path: the frame always goes to the writer goroutine.
func (w *writer) enqueueQueued(shared, tail []byte) bool {
	return w.pushMode(0, shared, tail, false)
}

// control queues a ping or pong frame (payload ≤ 125 bytes, copied).
func (w *writer) control(op gws.Opcode, payload []byte) {
	w.push(byte(op), append([]byte(nil), payload...), nil)
}

func (w *writer) push(op byte, shared, tail []byte) bool {
	return w.pushMode(op, shared, tail, true)
}

func (w *writer) pushMode(op byte, shared, tail []byte, inline bool) bool {
	if since := w.blockedSince.Load(); since != 0 && time.Since(time.Unix(0, since)) > w.timeout {
		w.slow()
		return false
	}
	n := len(shared) + len(tail)
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	if w.bytes+n > w.max {
		w.closed = true
		w.mu.Unlock()
		w.slow()
		return false
	}
	if inline && !w.running && w.raw != nil {
		// Fast path: nothing queued, nobody writing. Own the socket for one non-blocking write.
		w.running = true
		w.mu.Unlock()
		w.buf = appendFrame(w.buf[:0], op, shared, tail)
		written, err := w.tryWrite(w.buf)
		rest := w.buf[written:]
		w.trimBuf()
		w.mu.Lock()
		switch {
		case err != nil && !errors.Is(err, os.ErrDeadlineExceeded):
			w.running, w.closed = false, true
			w.mu.Unlock()
			return false
		case len(rest) == 0 && len(w.q) == 0:
			w.running = false
			w.mu.Unlock()
			return true
		}
		// The kernel took part or none of it, or others queued frames while we wrote: the rest
		// goes first, before those frames, and a writer goroutine (which inherits ownership of
		// the socket: running stays set) writes them all.
		if len(rest) > 0 {
			rest = append([]byte(nil), rest...)
			w.q = append(w.q, outFrame{})
			copy(w.q[1:], w.q)
			w.q[0] = outFrame{framed: rest}
			w.bytes += len(rest)
		}
		w.mu.Unlock()
		go w.run()
		return true
	}
	f := outFrame{shared: shared, op: op}
	if len(tail) <= len(f.tail) {
		f.tailN = int8(copy(f.tail[:], tail))
	} else {
		f.tailN, f.big = -1, append([]byte(nil), tail...)
	}
	w.q = append(w.q, f)
	w.bytes += n
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		go w.run()
	}
	return true
}

// trimBuf drops a framing buffer that grew for a large message (a JOINED snapshot), so that a
// session does not keep a big buffer for its whole life: idle connections must stay small.
func (w *writer) trimBuf() {
	if cap(w.buf) > 2048 {
		w.buf = nil
	}
}

// tryWrite makes one non-blocking write(2) (rawWrite: not through the scheduler's system-call
// path); EAGAIN is 0 bytes written, not an error.
func (w *writer) tryWrite(b []byte) (int, error) {
	w.wb, w.wn, w.werr = b, 0, nil
	err := w.raw.Write(w.writeFn)
	n, werr := w.wn, w.werr
	w.wb = nil
	if err != nil {
		return 0, err // os.ErrDeadlineExceeded is left to the caller: the queue path handles it
	}
	if werr == syscall.EAGAIN || werr == syscall.EWOULDBLOCK {
		return 0, nil
	}
	if werr != nil {
		return 0, werr
	}
	return n, nil
}

// writeOnce is RawConn.Write's function: one write(2) of w.wb, never a wait for the socket to
// become writable (it returns true whatever happened).
func (w *writer) writeOnce(fd uintptr) bool {
	for {
		r, e := rawWrite(fd, w.wb)
		if e != syscall.EINTR {
			w.wn = max(r, 0)
			if e != 0 {
				w.werr = e
			}
			return true
		}
	}
}

// appendFrame appends a server-to-client WebSocket frame (FIN, unmasked; RFC 6455 §5.2).
func appendFrame(b []byte, op byte, shared, tail []byte) []byte {
	if op == 0 {
		op = byte(gws.OpcodeBinary)
	}
	n := len(shared) + len(tail)
	b = append(b, 0x80|op)
	switch {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	b = append(b, shared...)
	return append(b, tail...)
}

// enqueueClose queues a close frame after everything already queued; nothing is queued after it.
func (w *writer) enqueueClose(code uint16, reason string) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.q = append(w.q, outFrame{close: code, reason: reason})
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		go w.run()
	}
}

// shut marks the writer closed (the connection is gone): queued frames are dropped.
func (w *writer) shut() {
	w.mu.Lock()
	w.closed = true
	w.q = w.q[:0]
	w.bytes = 0
	w.mu.Unlock()
}

func (w *writer) slow() { w.slowOnce.Do(w.onSlow) }

// run is the writer goroutine: it owns the socket (running is set) until the queue is empty.
func (w *writer) run() {
	for {
		w.mu.Lock()
		if len(w.q) == 0 {
			// Hand the socket back with no deadline: the fast path's raw write would fail on an
			// expired one.
			if !w.deadline.IsZero() {
				w.deadline = time.Time{}
				_ = w.nc.SetWriteDeadline(w.deadline)
			}
			w.running = false
			w.mu.Unlock()
			return
		}
		batch := w.q
		w.q, w.spare = w.spare[:0], nil
		w.mu.Unlock()

		written := 0
		for i := range batch {
			f := &batch[i]
			if f.close != 0 {
				w.deadline = time.Now().Add(w.timeout)
				_ = w.conn.SetWriteDeadline(w.deadline)
				_ = w.conn.WriteClose(f.close, []byte(f.reason))
				continue
			}
			now := time.Now()
			w.blockedSince.Store(now.UnixNano())
			// The socket deadline is a backstop between 1.5 and 2 times the slow threshold
			// (moved only when less than 1.5 remain, to save a timer update per write):
			// normally push notices the blocked write first and closes with CloseSlow.
			if w.deadline.Sub(now) < w.timeout*3/2 {
				w.deadline = now.Add(2 * w.timeout)
				_ = w.nc.SetWriteDeadline(w.deadline)
			}
			var err error
			switch {
			case f.framed != nil:
				_, err = w.nc.Write(f.framed)
			case w.raw != nil:
				w.buf = appendFrame(w.buf[:0], f.op, f.shared, f.tailBytes())
				_, err = w.nc.Write(w.buf)
				w.trimBuf()
			default: // compression: gws frames (and deflates) it
				err = w.conn.Writev(gws.Opcode(max(f.op, byte(gws.OpcodeBinary))), f.shared, f.tailBytes())
			}
			w.blockedSince.Store(0)
			written += f.size()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					_ = w.nc.Close() // a failed write leaves a torn frame: the stream is unusable
				}
				w.shut()
				break
			}
		}
		clear(batch)
		w.mu.Lock()
		w.bytes -= written
		if w.bytes < 0 {
			w.bytes = 0
		}
		if w.spare == nil && cap(batch) <= 64 {
			w.spare = batch[:0] // keep a small batch slice for reuse, not one a burst grew
		}
		w.mu.Unlock()
	}
}
