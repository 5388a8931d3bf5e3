//go:build linux

package floor

import (
	"container/heap"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// ematch is an epoll-floor match: its members and the tick's pre-encoded DELTA parts. Only the
// loop's goroutine touches it.
type ematch struct {
	id         string
	maxPlayers int
	created    time.Time
	next       time.Time // the next tick (the deadline heap's key)

	members  []*econn
	nextPID  uint32
	tick     uint32
	lastSent uint32
	deltaParts
}

// matchFor returns the match with this id, creating it (and scheduling its ticks) if it does
// not exist; nil for an id over 64 bytes.
func (s *EpollServer) matchFor(id string, maxPlayers int, create bool) *ematch {
	if m := s.matches[id]; m != nil {
		if create {
			m.maxPlayers = maxPlayers
		}
		return m
	}
	if len(id) > 64 {
		return nil
	}
	now := time.Now()
	m := &ematch{id: id, maxPlayers: maxPlayers, created: now, next: s.firstTick(now)}
	s.matches[id] = m
	heap.Push(&s.due, m)
	return m
}

func (m *ematch) object(s *EpollServer) map[string]any {
	members := make([]map[string]any, 0, len(m.members))
	for _, c := range m.members {
		members = append(members, map[string]any{"pid": c.pid, "player_id": "guest", "name": "guest", "connected": true})
	}
	return map[string]any{
		"id": m.id, "game": s.cfg.Game, "label": map[string]string{}, "private": false,
		"players": len(m.members), "max_players": m.maxPlayers, "tick": m.tick,
		"tick_rate": int(time.Second / s.cfg.Tick), "epoch": 1, "owner": "floor",
		"created_at": m.created.UTC().Format(time.RFC3339), "members": members,
	}
}

// add seats c and sends its JOINED (before any DELTA: the loop sends both).
func (m *ematch) add(s *EpollServer, c *econn, req uint32) bool {
	if m.maxPlayers > 0 && len(m.members) >= m.maxPlayers {
		return false
	}
	m.nextPID++
	c.pid, c.m, c.ackSent = m.nextPID, m, c.lastSeq
	m.members = append(m.members, c)
	pids := make([]uint32, len(m.members))
	for i, x := range m.members {
		pids[i] = x.pid
	}
	s.send(c, opBinary, joinedFrame(m.id, s.cfg.Game, req, c.pid, m.lastSent, uint32(time.Second/s.cfg.Tick), pids))
	return true
}

func (m *ematch) leave(c *econn) {
	for i, x := range m.members {
		if x == c {
			m.members = append(m.members[:i], m.members[i+1:]...)
			return
		}
	}
}

// tickOnce sends this tick's DELTA to every member if any member's input arrived since the
// last tick: the same bytes as the gws floor's, one write(2) per member.
func (s *EpollServer) tickOnce(m *ematch, start time.Time) {
	m.tick++
	k := 0
	for _, c := range m.members {
		if c.lastSeq != c.ackSent {
			k++
		}
	}
	if k == 0 {
		s.ticks.observe(time.Since(start))
		return
	}
	since := m.tick - m.lastSent
	m.lastSent = m.tick
	m.head = append(m.head[:0], 0x99, opDelta, 1)
	m.head = protocol.AppendUint(m.head, uint64(m.tick))
	m.head = protocol.AppendUint(m.head, uint64(since))
	if k != m.bodyK {
		m.buildBody(k)
	}
	// members may leave while we write (a failed write drops one): walk a stable copy
	for i := 0; i < len(m.members); i++ {
		c := m.members[i]
		m.tail = m.tail[:0]
		if c.lastSeq != c.ackSent {
			m.tail = protocol.AppendUint(m.tail, uint64(c.lastSeq))
			c.ackSent = c.lastSeq
		} else {
			m.tail = append(m.tail, 0xc0)
		}
		m.tail = append(m.tail, 0xc0, 0xc0)
		s.send(c, opBinary, m.head, m.body, m.tail)
		if i < len(m.members) && m.members[i] != c {
			i-- // c was dropped: the next member moved into its place
		}
	}
	s.ticks.observe(time.Since(start))
}
