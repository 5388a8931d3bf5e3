package gametest

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// Player is a seated member: what it sends goes through the match's inbox like a client's; what
// the match sends it is kept and applied to its Mirror (a client's copy of the state).
type Player struct {
	h      *Harness
	PID    uint32
	Name   string
	User   string
	Mirror *game.Mirror
	sink   *sink
	seq    uint32
	events []Event
}

// Event is an event the player received: a game event (Kind GAME, Name and Data from
// Ctx.Emit/EmitTo), a MESSAGE (From the sender), JOIN, LEAVE, SERVER...
type Event struct {
	Kind protocol.EventKind
	From uint32
	Name string // game events only
	Data any    // decoded msgpack: integers int64 (uint64 above), floats float64, maps map[string]any
}

// Input sends an input (v encoded with msgpack) with the next sequence number; it is applied at
// the next Step. It returns the sequence number.
func (p *Player) Input(v any) uint32 {
	p.h.T.Helper()
	b, err := protocol.Marshal(v)
	if err != nil {
		p.h.T.Fatalf("gametest: input: %v", err)
	}
	p.seq++
	if !p.h.Match.Input(p.PID, p.seq, 0, b) {
		p.h.T.Fatalf("gametest: input %d of %s dropped (inbox full)", p.seq, p.Name)
	}
	return p.seq
}

// Message sends a message (v encoded with msgpack) to everyone (no pids) or to pids.
func (p *Player) Message(v any, to ...uint32) {
	p.h.T.Helper()
	b, err := protocol.Marshal(v)
	if err != nil {
		p.h.T.Fatalf("gametest: message: %v", err)
	}
	if !p.h.Match.Message(p.PID, to, false, b) {
		p.h.T.Fatalf("gametest: message of %s dropped", p.Name)
	}
}

// Leave leaves for good (LeaveLeft) at the next Step; Drop loses the connection (LeaveDropped).
func (p *Player) Leave() { p.h.Match.Leave(p.PID, p.sink, protocol.LeaveLeft) }

// Drop is a lost connection: the seat is kept for the game's reconnect grace.
func (p *Player) Drop() { p.h.Match.Leave(p.PID, p.sink, protocol.LeaveDropped) }

// Frames returns the frames received since the last call (applying them to the Mirror and
// collecting their events on the way).
func (p *Player) Frames() []protocol.ServerMsg {
	p.h.T.Helper()
	raw := p.sink.take()
	out := make([]protocol.ServerMsg, len(raw))
	for i, f := range raw {
		m := &out[i]
		if err := protocol.DecodeServer(f, m); err != nil {
			p.h.T.Fatalf("gametest: %s got an undecodable frame %x: %v", p.Name, f, err)
		}
		var err error
		switch m.Op {
		case protocol.OpJoined:
			err = p.Mirror.ApplyJoined(m)
		case protocol.OpDelta:
			err = p.Mirror.ApplyDelta(m)
			p.collect(m.Events)
			p.collect(m.Direct)
		case protocol.OpCatchup:
			err = p.Mirror.ApplyCatchup(m)
		}
		if err != nil {
			p.h.T.Fatalf("gametest: %s: frame %d (op %d): %v", p.Name, i, m.Op, err)
		}
	}
	return out
}

// Events returns the events received so far (and forgets them); with names, only game events
// of those names are returned (the others are forgotten as well).
func (p *Player) Events(names ...string) []Event {
	p.Frames()
	evs := p.events
	p.events = nil
	if len(names) == 0 {
		return evs
	}
	var out []Event
	for _, e := range evs {
		for _, n := range names {
			if e.Kind == protocol.EventGame && e.Name == n {
				out = append(out, e)
			}
		}
	}
	return out
}

// Field is the player's mirror's value of entity id's field (by schema name or key number),
// decoded; nil when the player does not see it.
func (p *Player) Field(id uint32, name string) any {
	p.h.T.Helper()
	p.Frames()
	key := -1
	for i, n := range p.h.Schema {
		if n == name {
			key = i
		}
	}
	if key < 0 {
		k, err := strconv.Atoi(name)
		if err != nil {
			p.h.T.Fatalf("gametest: no field %q in the schema %v", name, p.h.Schema)
		}
		key = k
	}
	for _, fields := range []map[uint32]map[uint32]string{p.Mirror.Private, p.Mirror.Public} {
		if raw, ok := fields[id][uint32(key)]; ok {
			var v any
			if err := protocol.Unmarshal([]byte(raw), &v); err != nil {
				p.h.T.Fatalf("gametest: field %s of %d: %v", name, id, err)
			}
			return normalize(v)
		}
	}
	return nil
}

// Sees reports whether the player's mirror has entity id.
func (p *Player) Sees(id uint32) bool {
	p.Frames()
	_, pub := p.Mirror.Public[id]
	_, priv := p.Mirror.Private[id]
	return pub || priv
}

func (p *Player) collect(raw []byte) {
	if len(raw) == 0 {
		return
	}
	var evs [][]any
	if err := protocol.Unmarshal(raw, &evs); err != nil {
		p.h.T.Fatalf("gametest: events %x: %v", raw, err)
	}
	for _, e := range evs {
		if len(e) < 3 {
			continue
		}
		ev := Event{Kind: protocol.EventKind(toInt(e[0])), From: uint32(toInt(e[1])), Data: normalize(e[2])}
		if ev.Kind == protocol.EventGame {
			if pair, ok := ev.Data.([]any); ok && len(pair) == 2 {
				ev.Name, _ = pair[0].(string)
				ev.Data = pair[1]
			}
		}
		p.events = append(p.events, ev)
	}
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x)
	}
	return -1
}

// normalize makes decoded msgpack predictable: every integer an int64 (uint64 above its
// range), every float a float64, map keys strings.
func normalize(v any) any {
	switch x := v.(type) {
	case int8, int16, int32, int64, uint8, uint16, uint32:
		return toInt(x)
	case uint64:
		if x <= 1<<63-1 {
			return int64(x)
		}
		return x
	case float32:
		return float64(x)
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(normalize(k))] = normalize(e)
		}
		return out
	}
	return v
}

// sink keeps every frame the match delivers (a game.Sink).
type sink struct {
	mu     sync.Mutex
	frames [][]byte
}

func (s *sink) Deliver(shared, tail []byte) {
	f := append(append(make([]byte, 0, len(shared)+len(tail)), shared...), tail...)
	s.mu.Lock()
	s.frames = append(s.frames, f)
	s.mu.Unlock()
}

func (s *sink) Detached(string, uint32, protocol.LeaveReason) {}

func (s *sink) take() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.frames
	s.frames = nil
	return f
}
