package game

// Group is a set of sinks that a match reaches with ONE delivery per tick instead of one per
// sink: the cluster relay is one group per match (every member and spectator of the match on
// other instances), so a tick costs one publish on the match's channel, however many remote
// players there are. A local session is a group of one: it is not a GroupSink, and gets its
// frame with Deliver (inline, non-blocking) as before.
//
// DeliverGroup is called from the match goroutine and must not block (hand off, or drop and
// count: the receiving side detects the gap and repairs).
type Group interface {
	// DeliverGroup hands over one tick for the group: shared is the delta's shared part
	// (immutable, may be kept, the same bytes every other recipient gets) and tails holds one
	// entry per live recipient in the group this tick (spectators have PID 0 and NilTail).
	// tails and the bytes its entries point to belong to the match and are reused after
	// DeliverGroup returns: copy what you keep.
	DeliverGroup(shared []byte, tails []GroupTail)
}

// GroupSink is a Sink that belongs to a Group: its tick deltas go through the group's
// DeliverGroup, everything else (JOINED, catch-ups, END) through its own Deliver as usual.
type GroupSink interface {
	Sink
	Group() Group // nil: delivered alone, like a plain Sink
}

// GroupTail is one recipient's part of a group delivery.
type GroupTail struct {
	Sink Sink
	PID  uint32 // 0 for a spectator
	Tail []byte
}

// groupBatch collects one group's recipients during a commit. Tails are copied into the
// match's arena (m.groupBytes) as offsets, because the arena may grow while they are added.
type groupBatch struct {
	g     Group
	items []groupItem
	out   []GroupTail
}

type groupItem struct {
	sink     Sink
	pid      uint32
	off, end int
}

// groupOf returns s's group, or nil when s is delivered alone.
func groupOf(s Sink) Group {
	if gs, ok := s.(GroupSink); ok {
		return gs.Group()
	}
	return nil
}

// addToGroup queues s's frame tail in g's batch for this tick.
func (m *Match) addToGroup(g Group, s Sink, pid uint32, tail []byte) {
	var b *groupBatch
	for i := range m.groups {
		if m.groups[i].g == g {
			b = &m.groups[i]
			break
		}
	}
	if b == nil {
		if len(m.groups) < cap(m.groups) {
			m.groups = m.groups[:len(m.groups)+1]
		} else {
			m.groups = append(m.groups, groupBatch{})
		}
		b = &m.groups[len(m.groups)-1]
		b.g = g
	}
	off := len(m.groupBytes)
	m.groupBytes = append(m.groupBytes, tail...)
	b.items = append(b.items, groupItem{sink: s, pid: pid, off: off, end: len(m.groupBytes)})
}

// flushGroups makes each group's one delivery of this tick and resets the batches (keeping
// their memory, so a steady tick does not allocate).
func (m *Match) flushGroups(shared []byte) int {
	n := 0
	for i := range m.groups {
		b := &m.groups[i]
		b.out = b.out[:0]
		for _, it := range b.items {
			b.out = append(b.out, GroupTail{Sink: it.sink, PID: it.pid, Tail: m.groupBytes[it.off:it.end:it.end]})
		}
		b.g.DeliverGroup(shared, b.out)
		n += len(b.out)
		clear(b.items)
		b.items = b.items[:0]
		clear(b.out)
		b.out = b.out[:0]
		b.g = nil
	}
	m.groups = m.groups[:0]
	m.groupBytes = m.groupBytes[:0]
	return n
}
