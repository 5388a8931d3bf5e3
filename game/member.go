package game

import (
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// Sink is where a match's frames for one member (or spectator) go: the server implements it
// with a session's bounded writer, the cluster bus with a relay to another instance.
//
// Both methods are called from the match goroutine and must not block: a sink that cannot keep
// up closes its own connection (the session then reports the member dropped) and never stalls
// the match.
type Sink interface {
	// Deliver hands over one frame: shared followed by tail. shared is immutable and may be
	// kept (the same bytes go to every member); tail belongs to the match and is reused after
	// Deliver returns, so a sink that queues the frame must copy tail.
	Deliver(shared, tail []byte)
	// Detached tells the sink that match (by id: a relayed sink's match runs on another
	// instance) removed it (kicked, replaced by another connection, the match ended, its seat
	// timed out). Not called when the sink itself asked to leave.
	Detached(matchID string, pid uint32, reason protocol.LeaveReason)
}

// QueuedSink is an optional extension of Sink for sinks that can either write a frame at once,
// on the caller's goroutine (Deliver), or hand it to another goroutine (DeliverQueued). A match
// delivers to its first InlineDeliveries recipients of a tick with Deliver and to the rest with
// DeliverQueued, so the tick of a match with a large audience does not grow with its writes.
type QueuedSink interface {
	Sink
	DeliverQueued(shared, tail []byte)
}

// InlineDeliveries is how many recipients per tick a match delivers to with Deliver before it
// switches to DeliverQueued (for sinks that have it). Measured on the 2-core box (bench fanout,
// 1,000 spectators): inline writes cost ~15-20% less CPU than handing each frame to a writer
// goroutine, and take ~25 µs each, so 1,024 keeps a tick's writes under half the 50 ms
// interval; a capped budget of 128 bounded the tick at ~10 ms but cost more CPU than either.
const InlineDeliveries = 1024

// Player is a seat in a match as game code sees it.
type Player struct {
	PID       uint32 // 1, 2, … in join order; never reused within a match
	UserID    string // the authenticated user
	Name      string
	Meta      []byte // the msgpack value the client sent with JOIN (nil if none)
	Connected bool   // false while dropped (within the reconnect grace)
	LastInput uint32 // seq of the last input applied (the ack)
	Data      any    // free for the game's own per-player data
}

// member is the runtime's record of a seat; owned by the match goroutine.
type member struct {
	Player
	sink      Sink
	droppedAt time.Time
	ackDirty  bool
	direct    []byte // this tick's direct events, encoded
	nDirect   int
	syncing   bool // a SYNC/resume is pending: no live frames until its catch-up
	joining   bool // gets JOINED at the end of this tick instead of the delta
	joinReq   uint32
	// lostAt is the last tick in which the member lost an entity's ownership. Only that tick's
	// tail tells its client to drop the entity's private fields, and catch-ups replay no
	// tails: a catch-up from before lostAt is a snapshot instead.
	lostAt uint32
}

type joinReq struct {
	ctx    interface{ Err() error }
	userID string
	name   string
	meta   []byte
	reply  chan joinReply      // StartJoin: the answer goes here (buffered, 1)
	done   func(uint32, error) // JoinFunc: or is handed to this instead
}

func (j *joinReq) answer(pid uint32, err error) {
	if j.done != nil {
		j.done(pid, err)
		return
	}
	j.reply <- joinReply{pid: pid, err: err}
}

type joinReply struct {
	pid uint32
	err error
}
