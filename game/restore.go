package game

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// MaxCheckpointBytes is the largest checkpoint Restore reads (a sink should refuse to store a
// larger one: it could never be restored).
const MaxCheckpointBytes = 4 << 20

// maxRestoredPlayers bounds a checkpoint's seat count (it sizes the inbox).
const maxRestoredPlayers = 1 << 12

// Restore recreates a match from a checkpoint (MatchCheckpoint.Data) in epoch (0: the
// checkpoint's epoch + 1; it must be later than the checkpoint's). The match has the
// checkpoint's state, tick, labels, reservations, random generator and game data; every member
// is a dropped seat within its reconnect grace (one that was dropped already keeps the time it
// had left), so its player resumes with SYNC (a snapshot: the epoch changed) or JOIN, and its
// ack continues from the last input applied (inputs at or below it are ignored). Errors:
// ErrBadCheckpoint, ErrUnknownGame, ErrNotRestorable (the game is not a Checkpointer),
// ErrExists, ErrClosed.
func (r *Registry) Restore(data []byte, epoch uint32) (*Match, error) {
	c, err := decodeCheckpoint(data)
	if err != nil {
		return nil, err
	}
	t, ok := r.catalog.Lookup(c.Game)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownGame, c.Game)
	}
	if epoch == 0 {
		if c.Epoch == math.MaxUint32 {
			return nil, fmt.Errorf("%w: epoch %d cannot grow", ErrBadCheckpoint, c.Epoch)
		}
		epoch = c.Epoch + 1
	}
	if epoch <= c.Epoch {
		return nil, fmt.Errorf("%w: restore in epoch %d, checkpoint of epoch %d", ErrBadCheckpoint, epoch, c.Epoch)
	}
	m, opts := r.buildMatch(t, CreateOptions{ID: c.ID, Game: c.Game, Label: c.Label, Private: c.Private,
		Creator: c.Creator, MaxPlayers: c.MaxPlayers, Epoch: epoch})
	cp, ok := m.logic.(Checkpointer)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotRestorable, c.Game)
	}
	if err := m.pcg.UnmarshalBinary(c.RNG); err != nil {
		return nil, fmt.Errorf("%w: rng: %w", ErrBadCheckpoint, err)
	}
	now := r.clock.Now()
	m.created = time.Unix(0, c.Created)
	m.tick, m.lastEmit, m.nextPID, m.everJoined = c.Tick, c.LastEmit, c.NextPID, c.EverJoined
	m.tickNow.Store(m.tick)
	for _, x := range c.Entities {
		e := &Entity{id: EntityID(x.ID), owner: x.Owner, st: m.state}
		for _, f := range x.Fields {
			s := e.slot(Key(f.Key))
			s.v, s.set, s.private = Value{kind: valueKind(f.Kind), n: f.N, s: string(f.S)}, true, f.Private
		}
		m.state.ents[e.id] = e
	}
	var wasConnected []*member
	for _, x := range c.Members {
		mem := &member{Player: Player{PID: x.PID, UserID: x.User, Name: x.Name, Meta: x.Meta, LastInput: x.LastInput}, droppedAt: now}
		if len(mem.Meta) == 0 {
			mem.Meta = nil
		}
		if x.DroppedMs >= 0 {
			mem.droppedAt = now.Add(-time.Duration(x.DroppedMs) * time.Millisecond)
		} else {
			wasConnected = append(wasConnected, mem)
		}
		m.members[mem.PID], m.byUser[mem.UserID] = mem, mem
		m.order = append(m.order, mem)
	}
	for _, x := range c.Reserved {
		m.reserved[x.User] = now.Add(time.Duration(x.LeftMs) * time.Millisecond)
	}
	var restoreErr error
	if err := m.safely(func() {
		if restoreErr = cp.Restore(c.GameData); restoreErr != nil {
			return
		}
		// The game saw these players connected: now their connections are gone.
		for _, mem := range wasConnected {
			m.logic.Leave(&m.ctx, &mem.Player, protocol.LeaveDropped)
		}
	}); err != nil {
		return nil, fmt.Errorf("game: restore %s: %w", c.Game, err)
	}
	if restoreErr != nil {
		return nil, fmt.Errorf("%w: game data: %w", ErrBadCheckpoint, restoreErr)
	}
	// Everybody gets a snapshot of the new epoch: no delta carries what came before.
	m.state.clearChanges()
	m.events, m.nEvents = m.events[:0], 0
	m.publishInfo()
	tick, members := m.tick, len(m.order) // the match goroutine owns them once started
	if err := r.start(m, opts); err != nil {
		return nil, err
	}
	r.log.Info("match restored", "match", m.id, "game", m.game, "epoch", epoch, "tick", tick, "members", members)
	return m, nil
}

// decodeCheckpoint decodes and checks a checkpoint (its bytes may come from anywhere).
func decodeCheckpoint(data []byte) (*cpMatch, error) {
	if len(data) > MaxCheckpointBytes {
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrBadCheckpoint, len(data), MaxCheckpointBytes)
	}
	// protocol.Unmarshal validates first: msgpack/v5.4.1 allocates what a header declares (a
	// bin32 of 3.3 GB from 13 bytes crashed a fuzz worker), and a checkpoint read back from
	// Redis is as untrusted as a frame.
	var c cpMatch
	if err := protocol.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCheckpoint, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCheckpoint, err)
	}
	return &c, nil
}

func (c *cpMatch) check() error {
	switch {
	case c.Version != checkpointVersion:
		return fmt.Errorf("version %d, want %d", c.Version, checkpointVersion)
	case c.ID == "" || c.Game == "":
		return errors.New("no match id or game")
	case c.MaxPlayers < 1 || c.MaxPlayers > maxRestoredPlayers:
		return fmt.Errorf("max players %d", c.MaxPlayers)
	case len(c.Members) > c.MaxPlayers:
		return fmt.Errorf("%d members for %d seats", len(c.Members), c.MaxPlayers)
	case c.LastEmit > c.Tick:
		return fmt.Errorf("last delta %d after tick %d", c.LastEmit, c.Tick)
	}
	pids, users := map[uint32]bool{}, map[string]bool{}
	for _, x := range c.Members {
		if x.PID == 0 || x.PID > c.NextPID || pids[x.PID] || users[x.User] {
			return fmt.Errorf("member pid %d (next %d) user %q: duplicate or out of range", x.PID, c.NextPID, x.User)
		}
		if protocol.CheckPayload(x.Meta) != nil && len(x.Meta) > 0 {
			return fmt.Errorf("member %d meta is not a deliverable value", x.PID)
		}
		pids[x.PID], users[x.User] = true, true
	}
	for _, x := range c.Reserved {
		if x.LeftMs <= 0 || x.LeftMs > int64(24*time.Hour/time.Millisecond) {
			return fmt.Errorf("reservation of %q: %d ms left", x.User, x.LeftMs)
		}
	}
	ids := map[uint32]bool{}
	for _, x := range c.Entities {
		if ids[x.ID] {
			return fmt.Errorf("entity %d twice", x.ID)
		}
		ids[x.ID] = true
		keys := map[uint8]bool{}
		for _, f := range x.Fields {
			if Key(f.Key) > MaxKey || keys[f.Key] || valueKind(f.Kind) > kindRaw {
				return fmt.Errorf("entity %d field %d (kind %d): duplicate or out of range", x.ID, f.Key, f.Kind)
			}
			if valueKind(f.Kind) == kindRaw && protocol.CheckPayload(f.S) != nil {
				return fmt.Errorf("entity %d field %d is not a deliverable value", x.ID, f.Key)
			}
			keys[f.Key] = true
		}
	}
	return nil
}
