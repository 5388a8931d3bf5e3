package game

import (
	"sync"
	"sync/atomic"

	"github.com/tickrelay/tickrelay/protocol"
)

type msgKind uint8

const (
	mJoin    msgKind = iota + 1 // overflow: refused with ErrBusy (the client may retry)
	mLeave                      // never refused: at most one per seat per connection, so bounded by seats
	mInput                      // overflow: dropped and counted (per player per tick, and per inbox)
	mMessage                    // overflow: dropped and counted, like inputs
	mPublish                    // overflow: refused with ErrBusy (the HTTP caller gets 503)
	mSync                       // overflow: refused with ErrBusy (the client asks again)
	mReserve                    // overflow: refused with ErrBusy
	mWatch                      // overflow: refused with ErrBusy
	mUnwatch                    // never refused, like leaves
	mKick                       // never refused (operator action)
)

// inMsg is one queued message. Payload bytes and recipient lists live in the inbox's arenas so
// that queueing an input does not allocate.
type inMsg struct {
	kind     msgKind
	pid      uint32
	a, b     uint32 // input: seq, seen; sync: epoch, tick
	req      uint32
	off, n   int32 // payload in the byte arena
	toOff    int32 // recipients in the pid arena
	toN      int32
	echo     bool
	reason   protocol.LeaveReason
	sink     Sink
	join     *joinReq
	replyErr chan error
}

// inbox is a match's bounded queue, filled by any goroutine and drained by the match once per
// tick. It is a mutex-guarded double buffer rather than a channel so that draining takes every
// message at once and queued payloads need no allocation; each kind's overflow policy is stated
// on its constant above.
type inbox struct {
	mu       sync.Mutex
	msgs     []inMsg
	bytes    []byte
	pids     []uint32
	perPID   map[uint32]uint16 // inputs+messages queued this tick per pid
	maxMsgs  int
	maxBytes int
	maxPer   int

	spareMsgs  []inMsg
	spareBytes []byte
	sparePIDs  []uint32

	dropped atomic.Uint64 // inputs and messages dropped on overflow, ever
	closed  bool          // the match finished: every push is refused (see shut)
}

func newInbox(maxMsgs, maxPer int) *inbox {
	return &inbox{perPID: map[uint32]uint16{}, maxMsgs: maxMsgs, maxBytes: maxMsgs * 256, maxPer: maxPer}
}

// push queues m; payload and to are copied. It reports false when m was refused or dropped.
func (q *inbox) push(m inMsg, payload []byte, to []uint32) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	switch m.kind {
	case mLeave, mUnwatch, mKick:
		// always accepted
	case mInput, mMessage:
		if len(q.msgs) >= q.maxMsgs || len(q.bytes)+len(payload) > q.maxBytes || int(q.perPID[m.pid]) >= q.maxPer {
			q.dropped.Add(1)
			return false
		}
		q.perPID[m.pid]++
	default:
		if len(q.msgs) >= q.maxMsgs || len(q.bytes)+len(payload) > q.maxBytes {
			return false
		}
	}
	m.off, m.n = int32(len(q.bytes)), int32(len(payload))
	q.bytes = append(q.bytes, payload...)
	m.toOff, m.toN = int32(len(q.pids)), int32(len(to))
	q.pids = append(q.pids, to...)
	q.msgs = append(q.msgs, m)
	return true
}

// depth is the number of queued messages.
func (q *inbox) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

// drain takes every queued message; the caller hands the slices back with recycle.
func (q *inbox) drain() ([]inMsg, []byte, []uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	msgs, bytes, pids := q.msgs, q.bytes, q.pids
	q.msgs, q.bytes, q.pids = q.spareMsgs[:0], q.spareBytes[:0], q.sparePIDs[:0]
	q.spareMsgs, q.spareBytes, q.sparePIDs = nil, nil, nil
	clear(q.perPID)
	return msgs, bytes, pids
}

// shut refuses every later push and returns what is still queued, so a finishing match can
// answer each request: nothing is left in a queue nobody reads.
func (q *inbox) shut() []inMsg {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	msgs, _, _ := q.drain()
	return msgs
}

// isClosed reports whether shut was called: a refused push then means the match ended.
func (q *inbox) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

func (q *inbox) recycle(msgs []inMsg, bytes []byte, pids []uint32) {
	clear(msgs) // drop references to sinks and requests
	q.mu.Lock()
	defer q.mu.Unlock()
	q.spareMsgs, q.spareBytes, q.sparePIDs = msgs[:0], bytes[:0], pids[:0]
}
