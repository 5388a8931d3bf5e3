package game

import (
	"sync"
	"sync/atomic"

	"github.com/tickrelay/tickrelay/protocol"
)

type msgKind uint8

// Each kind's overflow policy. A member's messages are counted against that member's share of
// the inbox, so one member's flood can never use another member's room; requests from outside
// the match (joins, reservations, spectators, published events) have a pool of their own.
const (
	mJoin    msgKind = iota + 1 // requests pool, per user: refused with ErrBusy (the client may retry)
	mLeave                      // never refused: at most one per seat per connection, so bounded by seats
	mInput                      // member's share (count and bytes): dropped and counted
	mMessage                    // member's share (count) and relay budget (bytes): refused (the sender gets an ERROR)
	mPublish                    // requests pool: refused with ErrBusy (the HTTP caller gets 503)
	mSync                       // one per member: a newer SYNC replaces the pending one (never more queued)
	mReserve                    // requests pool, per user: refused with ErrBusy
	mWatch                      // requests pool: refused with ErrBusy
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

// inboxLimits are the inbox's budgets per tick (see Options for their defaults).
type inboxLimits struct {
	maxMsgs     int // members' inputs and messages queued, all members together
	maxBytes    int // members' input payload bytes, all members together
	maxPer      int // inputs and messages per member
	perBytes    int // input payload bytes per member
	maxReqs     int // requests from outside the match (joins, reservations, watches, publishes)
	perSource   int // of those, per user (joins and reservations)
	relayBudget int // message payload bytes per tick, all senders together
	relayShare  int // message payload bytes per tick per sender
}

// share is one member's use of the inbox this tick.
type share struct {
	n     uint16 // inputs and messages
	bytes int32  // input payload bytes
	relay int32  // message payload bytes
	sync  int32  // index+1 in msgs of its pending SYNC (0: none)
}

// pushResult says what became of a pushed message.
type pushResult uint8

const (
	pushQueued   pushResult = iota // queued for the next tick
	pushReplaced                   // a SYNC that replaced the member's pending one
	pushFull                       // refused: the sender's share (or the pool) is used up this tick
	pushBudget                     // refused: the relay budget (the match's or the sender's) is used up
	pushClosed                     // refused: the match has finished
)

// inbox is a match's bounded queue, filled by any goroutine and drained by the match once per
// tick. It is a mutex-guarded double buffer rather than a channel so that draining takes every
// message at once and queued payloads need no allocation; each kind's overflow policy is stated
// on its constant above. Memory is bounded by the limits whatever the senders do: members'
// input bytes by maxBytes, message bytes by relayBudget, counts by maxMsgs + maxReqs + one SYNC
// per member + leaves (one per seat).
type inbox struct {
	mu         sync.Mutex
	msgs       []inMsg
	bytes      []byte
	pids       []uint32
	perPID     map[uint32]share  // this tick's use per member with a pid ≥ densePIDs
	dense      []share           // this tick's use per member with a small pid, indexed by pid
	perSource  map[string]uint16 // this tick's requests per user
	members    int               // inputs and messages queued
	inBytes    int               // input payload bytes queued
	relayBytes int               // message payload bytes queued
	reqs       int               // requests queued
	lim        inboxLimits

	spareMsgs  []inMsg
	spareBytes []byte
	sparePIDs  []uint32

	dropped   atomic.Uint64 // inputs dropped over a share, ever
	refused   atomic.Uint64 // messages refused over the relay budget or a share, ever
	coalesced atomic.Uint64 // SYNCs that replaced a pending one, ever
	closed    bool          // the match finished: every push is refused (see shut)

	// wake is signalled (without blocking) by a push while the match sleeps (sleep.go).
	wake     chan struct{}
	sleeping atomic.Bool
}

func newInbox(lim inboxLimits) *inbox {
	return &inbox{wake: make(chan struct{}, 1), perPID: map[uint32]share{}, perSource: map[string]uint16{}, lim: lim}
}

// push queues m; payload and to are copied. src names a request's source (the user of a join
// or reservation) for its per-source cap.
func (q *inbox) push(m inMsg, payload []byte, to []uint32, src string) pushResult {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return pushClosed
	}
	n := len(payload)
	var s share
	member := m.kind == mInput || m.kind == mMessage || m.kind == mSync
	if member {
		s = q.share(m.pid)
	}
	switch m.kind {
	case mLeave, mUnwatch, mKick:
		// always accepted
	case mInput:
		// A member's first input of a tick needs room only in the total, so a game whose
		// inputs are large still gets one per tick.
		if int(s.n) >= q.lim.maxPer || q.members >= q.lim.maxMsgs || q.inBytes+n > q.lim.maxBytes ||
			(s.n > 0 && int(s.bytes)+n > q.lim.perBytes) {
			q.dropped.Add(1)
			return pushFull
		}
		s.n++
		s.bytes += int32(n)
		q.members++
		q.inBytes += n
	case mMessage:
		if int(s.n) >= q.lim.maxPer || q.members >= q.lim.maxMsgs {
			q.refused.Add(1)
			return pushFull
		}
		if q.relayBytes+n > q.lim.relayBudget || (s.relay > 0 && int(s.relay)+n > q.lim.relayShare) {
			q.refused.Add(1)
			return pushBudget
		}
		s.n++
		s.relay += int32(n)
		q.members++
		q.relayBytes += n
	case mSync:
		if s.sync > 0 {
			// The newer SYNC wins: same place in the queue, its own request, base and sink.
			p := &q.msgs[s.sync-1]
			p.req, p.a, p.b, p.sink = m.req, m.a, m.b, m.sink
			q.coalesced.Add(1)
			return pushReplaced
		}
		s.sync = int32(len(q.msgs) + 1)
	default: // requests from outside the match
		if q.reqs >= q.lim.maxReqs {
			return pushFull
		}
		if src != "" {
			if int(q.perSource[src]) >= q.lim.perSource {
				return pushFull
			}
			q.perSource[src]++
		}
		q.reqs++
	}
	if member {
		q.setShare(m.pid, s)
	}
	m.off, m.n = int32(len(q.bytes)), int32(n)
	q.bytes = append(q.bytes, payload...)
	m.toOff, m.toN = int32(len(q.pids)), int32(len(to))
	q.pids = append(q.pids, to...)
	q.msgs = append(q.msgs, m)
	if q.sleeping.Load() {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return pushQueued
}

// densePIDs bounds the pids whose share lives in a slice instead of the map: pids are
// numbered from 1 in a match, so nearly every member's is small, and the slice costs one
// index where the map cost 3-4% of the server's CPU at arena 50×10 (a lookup and an update
// per input, on a map the match's tick had just cleared: cold in the reader's cache).
const densePIDs = 256

func (q *inbox) share(pid uint32) share {
	if pid < densePIDs {
		if int(pid) < len(q.dense) {
			return q.dense[pid]
		}
		return share{}
	}
	return q.perPID[pid]
}

func (q *inbox) setShare(pid uint32, s share) {
	if pid >= densePIDs {
		q.perPID[pid] = s
		return
	}
	if int(pid) >= len(q.dense) {
		q.dense = append(q.dense, make([]share, int(pid)+1-len(q.dense))...)
	}
	q.dense[pid] = s
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
	clear(q.dense)
	clear(q.perSource)
	q.members, q.inBytes, q.relayBytes, q.reqs = 0, 0, 0, 0
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
