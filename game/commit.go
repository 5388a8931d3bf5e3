package game

import (
	"github.com/tickrelay/tickrelay/protocol"
)

// commit ends a tick: it encodes the delta's shared part once, keeps it in the ring, and hands
// it to every live member with that member's tail; then new members get JOINED, spectators
// their first snapshot, and pending SYNCs their catch-up.
func (m *Match) commit() {
	st := m.state
	// Any private change makes the tick emit, even when its owner is not live: otherwise a
	// catch-up from the previous tick would have no delta to carry the owner's private fields.
	anyTail := len(st.private) > 0
	for _, mem := range m.order {
		if mem.live() && (mem.ackDirty || mem.nDirect > 0 || st.hasPrivateFor(mem.PID)) {
			anyTail = true
			break
		}
	}
	if st.hasChanges() || m.nEvents > 0 || anyTail {
		b := protocol.AppendDeltaHead(m.scratch[:0], m.epoch, m.tick, m.tick-m.lastEmit)
		b = st.appendChanges(b)
		b = appendEvents(b, m.nEvents, m.events)
		m.scratch = b
		// The shared bytes are handed to sinks that may queue them, and kept in the ring:
		// they must never change, so they get their own allocation (one per tick, whatever
		// the number of members).
		shared := append(make([]byte, 0, len(b)), b...)
		m.ring.push(m.tick, m.tick-m.lastEmit, shared)
		m.lastEmit = m.tick
		// Each local sink gets its frame now (inline for the first InlineDeliveries); sinks
		// in a group (the cluster relay) are collected and their group gets one delivery.
		n := 0
		for _, mem := range m.order {
			if mem.live() {
				if g := groupOf(mem.sink); g != nil {
					m.addToGroup(g, mem.sink, mem.PID, m.tailFor(mem, false, false))
					continue
				}
				deliver(mem.sink, n, shared, m.tailFor(mem, false, false))
				n++
			}
		}
		for s := range m.spectators {
			if g := groupOf(s); g != nil {
				m.addToGroup(g, s, 0, protocol.NilTail)
				continue
			}
			deliver(s, n, shared, protocol.NilTail)
			n++
		}
		if len(m.groups) > 0 {
			n += m.flushGroups(shared)
		}
		m.metrics.Delta(len(shared), n)
	}
	st.lostOwners(func(pid uint32) {
		if mem := m.members[pid]; mem != nil {
			mem.lostAt = m.tick
		}
	})
	st.clearChanges()
	m.events, m.nEvents = m.events[:0], 0
	for _, mem := range m.order {
		mem.ackDirty = false
		mem.direct, mem.nDirect = mem.direct[:0], 0
	}
	for _, mem := range m.order {
		if mem.joining {
			mem.joining = false
			if mem.sink != nil {
				mem.sink.Deliver(m.joinedFrame(mem, mem.joinReq), nil)
			}
		}
	}
	for _, w := range m.newWatchers {
		m.spectators[w.sink] = true
		w.sink.Deliver(m.joinedFrame(nil, w.req), nil)
	}
	clear(m.newWatchers)
	m.newWatchers = m.newWatchers[:0]
	for _, s := range m.syncs {
		m.catchUp(s)
	}
	clear(m.syncs)
	m.syncs = m.syncs[:0]
}

// deliver hands the i-th recipient of a tick its frame: inline for the first InlineDeliveries,
// then queued where the sink can queue.
func deliver(s Sink, i int, shared, tail []byte) {
	if i >= InlineDeliveries {
		if q, ok := s.(QueuedSink); ok {
			q.DeliverQueued(shared, tail)
			return
		}
	}
	s.Deliver(shared, tail)
}

// live reports whether mem gets this tick's delta.
func (mem *member) live() bool {
	return mem.Connected && mem.sink != nil && !mem.syncing && !mem.joining
}

// tailFor encodes mem's tail into the match's reused buffer (valid until the next call).
func (m *Match) tailFor(mem *member, forceAck, fullPrivate bool) []byte {
	priv := fullPrivate || m.state.hasPrivateFor(mem.PID)
	ack := forceAck || mem.ackDirty
	if !ack && !priv && mem.nDirect == 0 {
		return protocol.NilTail
	}
	t := m.tail[:0]
	if ack {
		t = protocol.AppendUint(t, uint64(mem.LastInput))
	} else {
		t = protocol.AppendNil(t)
	}
	if priv {
		t = m.state.appendPrivate(t, mem.PID, fullPrivate)
	} else {
		t = protocol.AppendNil(t)
	}
	t = appendEvents(t, mem.nDirect, mem.direct)
	m.tail = t
	return t
}

// appendEvents appends n encoded events as a msgpack array, or nil when there are none.
func appendEvents(b []byte, n int, events []byte) []byte {
	if n == 0 {
		return protocol.AppendNil(b)
	}
	b = protocol.AppendArrayHeader(b, n)
	return append(b, events...)
}

// joinedFrame encodes a JOINED for mem (nil: a spectator) describing the state at lastEmit.
func (m *Match) joinedFrame(mem *member, req uint32) []byte {
	if m.snapCache == nil || m.snapTick != m.lastEmit {
		m.snapCache = m.state.appendSnapshot(nil)
		m.snapTick = m.lastEmit
	}
	var pid, ack uint32
	var private []byte
	if mem != nil {
		pid, ack = mem.PID, mem.LastInput
		private = m.state.appendPrivate(nil, pid, true)
	}
	members := protocol.AppendMapHeader(nil, len(m.order))
	for _, x := range m.order {
		members = protocol.AppendUint(members, uint64(x.PID))
		members = append(members, 0x93)
		members = protocol.AppendString(members, x.UserID)
		members = protocol.AppendString(members, x.Name)
		members = protocol.AppendBool(members, x.Connected)
	}
	var schema []byte
	if s, ok := m.logic.(Schemer); ok {
		names := s.Schema()
		schema = protocol.AppendArrayHeader(nil, len(names))
		for _, n := range names {
			schema = protocol.AppendString(schema, n)
		}
	}
	return protocol.AppendServer(nil, &protocol.ServerMsg{
		Op: protocol.OpJoined, Req: req, Match: m.id, Game: m.game, PID: pid,
		Epoch: m.epoch, Tick: m.lastEmit, TickRate: uint32(m.opts.TickRate),
		State: m.snapCache, Private: private, Members: members, Schema: schema, Ack: ack,
	})
}

// catchUp answers a SYNC or resume: the deltas after s.tick from the ring (with mem's current
// ack and every private field in the last one), or a snapshot when they are gone or when mem
// lost an entity's ownership after s.tick (the ring's deltas carry no tails to tell it).
func (m *Match) catchUp(s syncReq) {
	mem := s.mem
	mem.syncing = false
	if m.members[mem.PID] != mem || mem.sink == nil {
		return
	}
	if s.epoch == m.epoch && s.tick >= mem.lostAt {
		var entries []ringEntry
		ok := s.tick == m.lastEmit
		if !ok && s.tick < m.lastEmit {
			entries, ok = m.ring.after(s.tick)
		}
		if ok {
			mem.sink.Deliver(protocol.AppendServer(nil, &protocol.ServerMsg{
				Op: protocol.OpCatchup, Req: s.req, Epoch: m.epoch, Tick: s.tick}), nil)
			for i, e := range entries {
				if i < len(entries)-1 {
					mem.sink.Deliver(e.shared, protocol.NilTail)
				} else {
					mem.sink.Deliver(e.shared, m.tailFor(mem, true, true))
				}
			}
			return
		}
	}
	mem.sink.Deliver(m.joinedFrame(mem, s.req), nil)
}

// finish ends the match: the game's End, END to every member and spectator, Detached.
func (m *Match) finish() {
	if m.ended {
		return
	}
	m.ended = true
	if err := m.safely(func() { m.logic.End(&m.ctx, m.endReason) }); err != nil {
		m.log.Error("game End failed", "err", err)
	}
	frame := protocol.AppendServer(nil, &protocol.ServerMsg{
		Op: protocol.OpEnd, Epoch: m.epoch, Tick: m.lastEmit, Reason: m.endReason, Result: m.endResult})
	told := map[Sink]bool{}
	for _, mem := range m.order {
		m.memberEvent(MemberLeft, protocol.LeaveEnded.String())
		if mem.sink != nil {
			told[mem.sink] = true
			mem.sink.Deliver(frame, nil)
			mem.sink.Detached(m.id, mem.PID, protocol.LeaveEnded)
			mem.sink = nil
		}
	}
	for s := range m.spectators {
		told[s] = true
		s.Deliver(frame, nil)
		s.Detached(m.id, 0, protocol.LeaveEnded)
	}
	// Requests still queued get their answer (later ones are refused with ErrMatchEnded):
	// joins and reservations are refused, syncs and watches get END.
	for _, msg := range m.in.shut() {
		switch msg.kind {
		case mJoin:
			msg.join.answer(0, ErrMatchEnded)
		case mReserve:
			msg.replyErr <- ErrMatchEnded
		case mSync, mWatch:
			if msg.sink != nil && !told[msg.sink] {
				told[msg.sink] = true
				msg.sink.Deliver(frame, nil)
				msg.sink.Detached(m.id, msg.pid, protocol.LeaveEnded)
			}
		}
	}
	for _, w := range m.newWatchers { // watches taken this tick but not yet answered
		if !told[w.sink] {
			told[w.sink] = true
			w.sink.Deliver(frame, nil)
			w.sink.Detached(m.id, 0, protocol.LeaveEnded)
		}
	}
	m.newWatchers = nil
	m.ring.reset()
	m.publishInfo()
	m.metrics.Ended(m.endReason)
	m.log.Info("match ended", "game", m.game, "reason", m.endReason.String(), "tick", m.tick)
}

func (m *Match) publishInfo() {
	m.infoDirty = false
	reserved := 0
	for u := range m.reserved {
		if m.byUser[u] == nil {
			reserved++
		}
	}
	i := &Info{ID: m.id, Game: m.game, Label: m.label, Private: m.private, Players: len(m.order), Reserved: reserved,
		MaxPlayers: m.opts.MaxPlayers, TickRate: m.opts.TickRate, Epoch: m.epoch, CreatedAt: m.created,
		Creator: m.creator, Ended: m.ended, Members: make([]MemberInfo, 0, len(m.order))}
	for _, mem := range m.order {
		i.Members = append(i.Members, MemberInfo{PID: mem.PID, UserID: mem.UserID, Name: mem.Name, Connected: mem.Connected})
	}
	m.info.Store(i)
}
