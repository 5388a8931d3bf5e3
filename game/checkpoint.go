package game

import (
	"errors"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Checkpointer is implemented by games whose matches can be checkpointed and restored, on this
// instance or another one (failover). The runtime keeps everything it owns (the state with
// owners and private fields, the members and their last applied inputs, the next pid, the
// reservations, the tick, the random generator); Checkpoint returns the game's own data
// (fields of its Logic, Player.Data), and Restore gives it back to a fresh Logic, in place of
// Init. Both run on the match goroutine. A game without it is never checkpointed.
type Checkpointer interface {
	Checkpoint() ([]byte, error)
	Restore(data []byte) error
}

// CheckpointSink receives a match's checkpoints from its goroutine. Both methods must not
// block (hand off, drop and count when busy): a slow store never stalls a tick.
type CheckpointSink interface {
	// Offer hands over one checkpoint (c.Err set: it could not be taken). c.Data is the
	// caller's to keep.
	Offer(c MatchCheckpoint)
	// Forget: the match ended, its checkpoint must not be restored.
	Forget(matchID string)
}

// MatchCheckpoint is one checkpoint as handed to a CheckpointSink.
type MatchCheckpoint struct {
	Match string
	Game  string
	Epoch uint32
	Tick  uint32
	Taken time.Time
	Data  []byte // the encoded checkpoint (Registry.Restore reads it)
	Err   error  // why it could not be taken (Data is nil then)
}

// Errors of Registry.Restore.
var (
	ErrBadCheckpoint = errors.New("game: bad checkpoint")
	ErrNotRestorable = errors.New("game: game cannot be restored")
)

// checkpointVersion is the format's version, its first element.
const checkpointVersion = 1

// cpMatch is the checkpoint format: a msgpack array (field order below, never reordered; new
// fields go at the end with a new version).
type cpMatch struct {
	_msgpack   struct{}          `msgpack:",as_array"`
	Version    int               // checkpointVersion
	ID         string            // match id
	Game       string            // game type
	Private    bool              // not listed
	Creator    string            // creating user
	Created    int64             // creation time, unix ns
	MaxPlayers int               // seats
	Label      map[string]string // listing labels
	Epoch      uint32            // the epoch it was taken in (a restore runs in a later one)
	Tick       uint32            // the tick it was taken after
	LastEmit   uint32            // the last tick that sent a delta
	NextPID    uint32            // the last pid given
	EverJoined bool              // a player took a seat once
	RNG        []byte            // the PCG state (rand.PCG.MarshalBinary)
	Members    []cpMember        // in join order
	Reserved   []cpReservation   // live reservations
	Entities   []cpEntity        // in id order
	GameData   []byte            // Checkpointer.Checkpoint
}

type cpMember struct {
	_msgpack  struct{} `msgpack:",as_array"`
	PID       uint32
	User      string
	Name      string
	Meta      []byte
	LastInput uint32 // the ack: inputs at or below it are never applied again
	DroppedMs int64  // -1: connected when taken, else how long it had been dropped (ms)
}

type cpReservation struct {
	_msgpack struct{} `msgpack:",as_array"`
	User     string
	LeftMs   int64 // time left when taken
}

type cpEntity struct {
	_msgpack struct{} `msgpack:",as_array"`
	ID       uint32
	Owner    uint32
	Fields   []cpField
}

type cpField struct {
	_msgpack struct{} `msgpack:",as_array"`
	Key      uint8
	Private  bool
	Kind     uint8
	N        uint64
	S        []byte // bin, not str: a raw value's bytes are not UTF-8 (protocol.Unmarshal checks str)
}

// maybeCheckpoint hands a checkpoint to the sink every CheckpointEvery (match goroutine, after
// commit: no changes or events are pending).
func (m *Match) maybeCheckpoint() {
	if m.checkpoints == nil || m.ending || m.opts.CheckpointEvery < 0 {
		return
	}
	cp, ok := m.logic.(Checkpointer)
	if !ok {
		return
	}
	every := uint32(max(1, int64(m.opts.CheckpointEvery)*int64(m.opts.TickRate)/int64(time.Second)))
	if m.tick%every != 0 {
		return
	}
	now := m.clock.Now()
	c := MatchCheckpoint{Match: m.id, Game: m.game, Epoch: m.epoch, Tick: m.tick, Taken: now}
	if err := m.safely(func() { c.Data, c.Err = m.encodeCheckpoint(cp, now) }); err != nil {
		c.Data, c.Err = nil, err
	}
	if c.Err != nil {
		m.log.Warn("checkpoint not taken", "tick", m.tick, "err", c.Err)
	}
	m.checkpoints.Offer(c)
}

// encodeCheckpoint encodes the match (match goroutine, between ticks).
func (m *Match) encodeCheckpoint(cp Checkpointer, now time.Time) ([]byte, error) {
	data, err := cp.Checkpoint()
	if err != nil {
		return nil, fmt.Errorf("game checkpoint: %w", err)
	}
	rng, err := m.pcg.MarshalBinary()
	if err != nil {
		return nil, err
	}
	c := cpMatch{Version: checkpointVersion, ID: m.id, Game: m.game, Private: m.private, Creator: m.creator,
		Created: m.created.UnixNano(), MaxPlayers: m.opts.MaxPlayers, Label: m.label, Epoch: m.epoch, Tick: m.tick,
		LastEmit: m.lastEmit, NextPID: m.nextPID, EverJoined: m.everJoined, RNG: rng, GameData: data}
	for _, mem := range m.order {
		x := cpMember{PID: mem.PID, User: mem.UserID, Name: mem.Name, Meta: mem.Meta, LastInput: mem.LastInput, DroppedMs: -1}
		if !mem.Connected {
			x.DroppedMs = now.Sub(mem.droppedAt).Milliseconds()
		}
		c.Members = append(c.Members, x)
	}
	for u, exp := range m.reserved {
		if left := exp.Sub(now); left > 0 {
			c.Reserved = append(c.Reserved, cpReservation{User: u, LeftMs: max(1, left.Milliseconds())})
		}
	}
	for _, id := range m.state.sortedIDs() {
		e := m.state.ents[id]
		x := cpEntity{ID: uint32(id), Owner: e.owner}
		for k, s := range e.fields {
			if s.set {
				x.Fields = append(x.Fields, cpField{Key: uint8(k), Private: s.private, Kind: uint8(s.v.kind), N: s.v.n, S: []byte(s.v.s)})
			}
		}
		c.Entities = append(c.Entities, x)
	}
	return msgpack.Marshal(&c)
}
