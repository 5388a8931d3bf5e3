package game

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// Ctx is what game code uses to act on its match: the state, the players, events, the clock.
// It is valid only inside Logic callbacks (on the match's goroutine).
type Ctx struct {
	m *Match
}

// MatchID is the match's id.
func (c *Ctx) MatchID() string { return c.m.id }

// State is the match's entities.
func (c *Ctx) State() *State { return c.m.state }

// Tick is the number of the tick being run (1 for the first).
func (c *Ctx) Tick() uint32 { return c.m.tick }

// TickRate is ticks per second.
func (c *Ctx) TickRate() int { return c.m.opts.TickRate }

// Now is the match clock's time.
func (c *Ctx) Now() time.Time { return c.m.clock.Now() }

// Rand is a random source seeded from the match id: deterministic for a given id.
func (c *Ctx) Rand() *rand.Rand { return c.m.rng }

// Log is the match's logger.
func (c *Ctx) Log() *slog.Logger { return c.m.log }

// Player returns the seat pid (nil if none).
func (c *Ctx) Player(pid uint32) *Player {
	if mem := c.m.members[pid]; mem != nil {
		return &mem.Player
	}
	return nil
}

// Players calls fn for each seated player, in join order.
func (c *Ctx) Players(fn func(*Player)) {
	for _, mem := range c.m.order {
		fn(&mem.Player)
	}
}

// PlayerCount is the number of seats taken (connected or dropped).
func (c *Ctx) PlayerCount() int { return len(c.m.order) }

// MaxPlayers is the match's seat count.
func (c *Ctx) MaxPlayers() int { return c.m.opts.MaxPlayers }

// Emit sends a game event [name, payload] to every member in this tick's delta. payload is
// encoded with msgpack (a Value is used as is). An event that no member could decode is not
// sent: a payload deeper than the payload depth budget (protocol.PayloadDepth) or one that does
// not encode returns an error (wrapping ErrPayloadTooDeep for depth), is logged and counted.
func (c *Ctx) Emit(name string, payload any) error {
	data, err := c.m.gameEvent(name, payload)
	if err != nil {
		return err
	}
	c.m.addEvent(nil, protocol.EventGame, 0, data)
	return nil
}

// EmitTo sends a game event to one player only (in its tail of this tick's delta); refused as
// Emit's are.
func (c *Ctx) EmitTo(pid uint32, name string, payload any) error {
	data, err := c.m.gameEvent(name, payload)
	if err != nil {
		return err
	}
	if mem := c.m.members[pid]; mem != nil {
		c.m.addEvent(mem, protocol.EventGame, 0, data)
	}
	return nil
}

// gameEvent encodes a GAME event's data [name, payload], refusing what would poison the frame.
func (m *Match) gameEvent(name string, payload any) ([]byte, error) {
	v, err := Any(payload)
	if err != nil {
		m.log.Warn("game event not sent: its payload does not encode", "event", name, "err", err)
		return nil, err
	}
	b := protocol.AppendArrayHeader(nil, 2)
	b = protocol.AppendString(b, name)
	b = v.Append(b)
	if err := protocol.CheckAt(b, protocol.LevelEventData); err != nil {
		m.limited(LimitPayloadDepth)
		m.log.Warn("game event not sent: its payload is deeper than the payload depth budget", "event", name,
			"budget", protocol.PayloadDepth, "err", err)
		return nil, fmt.Errorf("%w: event %q: %w", ErrPayloadTooDeep, name, err)
	}
	return b, nil
}

// Relay delivers a player's message payload (raw msgpack) as a MESSAGE event from pid: to
// everyone (to empty) or to the listed pids, the sender included only if echo. Messages always
// travel in each recipient's own part of the frame ("direct"), so every recipient sees them in
// the order the match received them, whatever mix of targets and echo the senders used.
//
// A payload deeper than the payload depth budget is not relayed (it would make every
// recipient's frame undecodable): it is logged and counted, and Relay returns an error wrapping
// ErrPayloadTooDeep. Messages from clients were checked when they arrived; this guards payloads
// that game code builds.
func (c *Ctx) Relay(from uint32, to []uint32, echo bool, payload []byte) error {
	m := c.m
	if err := protocol.CheckAt(payload, protocol.LevelEventData); err != nil {
		m.limited(LimitPayloadDepth)
		m.log.Warn("message not relayed: its payload is deeper than the payload depth budget", "from", from, "err", err)
		return fmt.Errorf("%w: %w", ErrPayloadTooDeep, err)
	}
	if len(to) == 0 {
		for _, mem := range m.order {
			if mem.Connected && (mem.PID != from || echo) {
				m.addEvent(mem, protocol.EventMessage, from, payload)
			}
		}
		return nil
	}
	for i, pid := range to {
		if pid == from {
			continue // the sender gets it only with echo
		}
		dup := false
		for _, q := range to[:i] {
			dup = dup || q == pid
		}
		if mem := m.members[pid]; mem != nil && !dup && mem.Connected {
			m.addEvent(mem, protocol.EventMessage, from, payload)
		}
	}
	if echo {
		if mem := m.members[from]; mem != nil {
			m.addEvent(mem, protocol.EventMessage, from, payload)
		}
	}
	return nil
}

// Kick removes a player (LeaveKicked); its connection is told.
func (c *Ctx) Kick(pid uint32) {
	if mem := c.m.members[pid]; mem != nil {
		c.m.removeMember(mem, protocol.LeaveKicked)
	}
}

// End ends the match after this tick with EndFinished and result (encoded with msgpack).
func (c *Ctx) End(result any) {
	if !c.m.ending {
		c.m.ending = true
		c.m.endReason = protocol.EndFinished
		v, err := Any(result)
		if err == nil {
			err = protocol.CheckAt(v.RawBytes(), protocol.LevelClientPayload)
		}
		if err != nil {
			// END's result sits at level 2 of its frame: one that does not encode or nests
			// too deeply would make the END undecodable, so the match ends without it.
			c.m.limited(LimitPayloadDepth)
			c.m.log.Warn("match result dropped: it does not encode within the protocol's nesting limit", "err", err)
			v = Nil()
		}
		c.m.endResult = v.RawBytes()
	}
}

// SetLabel sets a label shown in match listings (and usable as a filter); "" deletes it.
func (c *Ctx) SetLabel(key, value string) {
	m := c.m
	if m.label[key] == value {
		return
	}
	l := make(map[string]string, len(m.label)+1)
	for k, v := range m.label {
		l[k] = v
	}
	if value == "" {
		delete(l, key)
	} else {
		l[key] = value
	}
	m.label = l
	m.infoDirty = true
}
