package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
)

// writer is a session's one writer: an outbound queue bounded in bytes, drained by a goroutine
// that exists only while there is something to write (an idle connection costs no goroutine).
//
// enqueue never blocks: it is called from match goroutines. A client that does not read makes
// the writer's socket write block; once a write has been blocked for WriteTimeout, or the queue
// would exceed its byte cap, the session is closed with CloseSlow and nothing more is queued —
// a slow client is disconnected, never silently skipped.
//
// Locking: mu guards q, bytes, running, closed. The writer goroutine holds no lock while writing.
type writer struct {
	conn    *gws.Conn
	max     int
	timeout time.Duration
	onSlow  func() // called once, without locks held, when the client is too slow

	mu      sync.Mutex
	q       []outFrame
	spare   []outFrame
	bytes   int
	running bool
	closed  bool

	blockedSince atomic.Int64 // unix nanos when the current write started; 0 when not writing
	slowOnce     sync.Once
	deadline     time.Time // writer goroutine only: the socket write deadline last set
}

// outFrame is one queued message: shared bytes (immutable, never copied) and a small tail
// copied inline, so queueing a typical delta does not allocate.
type outFrame struct {
	shared []byte
	tail   [8]byte
	tailN  int8 // -1: the tail is in big
	big    []byte
	close  uint16 // a close frame with this code instead of data
	reason string
}

func (f *outFrame) tailBytes() []byte {
	if f.tailN < 0 {
		return f.big
	}
	return f.tail[:f.tailN]
}

// enqueue queues shared+tail as one binary message; tail is copied. It reports false when the
// session is closed or was just closed for being slow.
func (w *writer) enqueue(shared, tail []byte) bool {
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
	f := outFrame{shared: shared}
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

func (w *writer) run() {
	for {
		w.mu.Lock()
		if len(w.q) == 0 {
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
			// normally enqueue notices the blocked write first and closes with CloseSlow.
			if w.deadline.Sub(now) < w.timeout*3/2 {
				w.deadline = now.Add(2 * w.timeout)
				_ = w.conn.SetWriteDeadline(w.deadline)
			}
			err := w.conn.Writev(gws.OpcodeBinary, f.shared, f.tailBytes())
			w.blockedSince.Store(0)
			written += len(f.shared) + len(f.tailBytes())
			if err != nil {
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
		if w.spare == nil {
			w.spare = batch[:0]
		}
		w.mu.Unlock()
	}
}
