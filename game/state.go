package game

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/tickrelay/tickrelay/protocol"
)

// EntityID names an entity in a match's state.
type EntityID uint32

// Key names a field of an entity. Keys are small integers (0–127 encode in one byte); a game can
// name them with a schema (Schemer) so clients see "x" instead of 0.
type Key uint8

// MaxKey is the largest field key.
const MaxKey Key = 127

// State is a match's authoritative state: entities with fields, changed only through this API so
// that every change is recorded. At the end of each tick the runtime turns the recorded changes
// into the delta (added entities, changed fields, removed ids) and clears them. Game code never
// diffs by hand.
//
// A State belongs to its match's goroutine: use it only inside Logic callbacks.
type State struct {
	ents    map[EntityID]*Entity
	added   []*Entity // created this tick (and still present)
	dirty   []*Entity // existing entities with changed public fields
	private []*Entity // entities with changed private fields
	removed []EntityID
	// refused is told about a field value refused for nesting too deeply (see fits); nil: none.
	refused func(e *Entity, k Key, err error)
}

func newState() *State { return &State{ents: make(map[EntityID]*Entity)} }

// fits reports whether v may be a field value: a raw value (Raw, or Any of a list, map or
// struct) must stay within the payload depth budget, since a field value sits at level 5 of a
// DELTA and a deeper one would make every member's frame, and every later snapshot, undecodable.
// A refused value leaves the field as it was; the match logs and counts the refusal.
func (e *Entity) fits(k Key, v Value) bool {
	if v.kind != kindRaw {
		return true
	}
	err := protocol.CheckPayload(unsafe.Slice(unsafe.StringData(v.s), len(v.s))) // read only
	if err != nil && e.st.refused != nil {
		e.st.refused(e, k, err)
	}
	return err == nil
}

// Entity is one entity: an id, an optional owner (the pid that may see its private fields), and
// fields by key.
type Entity struct {
	id     EntityID
	owner  uint32
	st     *State
	fields []slot
	added  bool // in st.added
	dirty  bool // in st.dirty
	pdirty bool // in st.private
	gone   bool
	// lost are the pids that owned the entity earlier this tick while it had private fields:
	// their tails tell them to drop those fields (nil in DELTA private). Cleared each tick.
	lost []uint32
}

type slot struct {
	v       Value
	set     bool
	private bool
	dirty   bool
}

// Spawn creates entity id. It panics if id exists (a game bug). An id removed earlier in the
// same tick may be spawned again: the delta then lists it in removed (the old entity, with its
// private fields) and in added (the new one), and clients apply removed first.
func (s *State) Spawn(id EntityID) *Entity {
	if _, ok := s.ents[id]; ok {
		panic(fmt.Sprintf("game: entity %d already exists", id))
	}
	e := &Entity{id: id, st: s, added: true}
	s.ents[id] = e
	s.added = append(s.added, e)
	return e
}

// Get returns entity id, or nil.
func (s *State) Get(id EntityID) *Entity { return s.ents[id] }

// Len is the number of entities.
func (s *State) Len() int { return len(s.ents) }

// Remove deletes entity id (and its private fields). Removing a missing id does nothing.
func (s *State) Remove(id EntityID) {
	e, ok := s.ents[id]
	if !ok {
		return
	}
	delete(s.ents, id)
	e.gone = true
	if e.added {
		return // created and removed in the same tick: nobody ever saw it
	}
	s.removed = append(s.removed, id)
}

// Each calls fn for every entity in id order.
func (s *State) Each(fn func(*Entity)) {
	for _, id := range s.sortedIDs() {
		fn(s.ents[id])
	}
}

func (s *State) sortedIDs() []EntityID {
	ids := make([]EntityID, 0, len(s.ents))
	for id := range s.ents {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ID returns the entity's id.
func (e *Entity) ID() EntityID { return e.id }

// Owner returns the pid allowed to see the entity's private fields (0: nobody).
func (e *Entity) Owner() uint32 { return e.owner }

// SetOwner sets the pid that sees the entity's private fields. Set it before the private
// fields: a previous owner's client keeps the private values it already received.
//
// The previous owner's client is told to drop the private fields it had (its DELTA's private
// carries nil for the entity); a previous owner that is not connected gets a snapshot when it
// comes back.
func (e *Entity) SetOwner(pid uint32) *Entity {
	if e.gone {
		return e
	}
	if e.owner != pid {
		if e.owner != 0 && !e.added && e.hasPrivate() && !slices.Contains(e.lost, e.owner) {
			e.lost = append(e.lost, e.owner)
			e.markPrivate()
		}
		e.owner = pid
		// The new owner must receive every private field: mark them all changed.
		for k := range e.fields {
			if e.fields[k].private && e.fields[k].set {
				e.fields[k].dirty = true
				e.markPrivate()
			}
		}
	}
	return e
}

func (e *Entity) slot(k Key) *slot {
	if k > MaxKey {
		panic(fmt.Sprintf("game: field key %d above %d", k, MaxKey))
	}
	if int(k) >= len(e.fields) {
		e.fields = append(e.fields, make([]slot, int(k)+1-len(e.fields))...)
	}
	return &e.fields[k]
}

// Set sets public field k. Setting the value it already has records nothing. It panics if k is
// a private field of the entity (a field keeps its kind: see SetPrivate).
func (e *Entity) Set(k Key, v Value) *Entity {
	if e.gone || !e.fits(k, v) {
		return e
	}
	s := e.slot(k)
	if s.set && s.private {
		panic(fmt.Sprintf("game: field %d of entity %d is private: set it with SetPrivate (a field keeps its kind)", k, e.id))
	}
	if s.set && !s.private && s.v == v {
		return e
	}
	s.v, s.set, s.dirty = v, true, true
	if !e.added && !e.dirty {
		e.dirty = true
		e.st.dirty = append(e.st.dirty, e)
	}
	return e
}

// SetPrivate sets field k visible only to the entity's owner. A field is public or private for
// the life of the entity: the protocol cannot take a public value back from the other players'
// mirrors (nor a private one from the owner's), so setting a public field private (or, with
// Set, a private one public) panics, like any game bug. Use another key.
func (e *Entity) SetPrivate(k Key, v Value) *Entity {
	if e.gone || !e.fits(k, v) {
		return e
	}
	s := e.slot(k)
	if s.set && !s.private {
		panic(fmt.Sprintf("game: field %d of entity %d is public: a field keeps its kind", k, e.id))
	}
	if s.set && s.private && s.v == v {
		return e
	}
	s.v, s.set, s.private, s.dirty = v, true, true, true
	e.markPrivate()
	return e
}

func (e *Entity) hasPrivate() bool {
	for i := range e.fields {
		if e.fields[i].set && e.fields[i].private {
			return true
		}
	}
	return false
}

// lostBy reports whether pid owned e earlier this tick and no longer does.
func (e *Entity) lostBy(pid uint32) bool {
	return e.owner != pid && slices.Contains(e.lost, pid)
}

func (e *Entity) markPrivate() {
	if !e.pdirty {
		e.pdirty = true
		e.st.private = append(e.st.private, e)
	}
}

// Field returns field k (Nil if unset).
func (e *Entity) Field(k Key) Value {
	if int(k) < len(e.fields) {
		return e.fields[k].v
	}
	return Value{}
}

// Has reports whether field k is set.
func (e *Entity) Has(k Key) bool { return int(k) < len(e.fields) && e.fields[k].set }

// appendFields appends map{key: value} of the public (private=false) or private fields, all of
// them or only the dirty ones.
func (e *Entity) appendFields(b []byte, private, onlyDirty bool) []byte {
	b = protocol.AppendMapHeader(b, e.countFields(private, onlyDirty))
	for i := range e.fields {
		s := &e.fields[i]
		if s.set && s.private == private && (!onlyDirty || s.dirty) {
			b = protocol.AppendUint(b, uint64(i))
			b = s.v.Append(b)
		}
	}
	return b
}

func (e *Entity) countFields(private, onlyDirty bool) int {
	n := 0
	for i := range e.fields {
		s := &e.fields[i]
		if s.set && s.private == private && (!onlyDirty || s.dirty) {
			n++
		}
	}
	return n
}

// hasChanges reports whether this tick changed anything public.
func (s *State) hasChanges() bool {
	if len(s.removed) > 0 || s.liveAdded() > 0 {
		return true
	}
	for _, e := range s.dirty {
		if !e.gone && e.countFields(false, true) > 0 {
			return true
		}
	}
	return false
}

func (s *State) liveAdded() int {
	n := 0
	for _, e := range s.added {
		if !e.gone {
			n++
		}
	}
	return n
}

// appendChanges appends [added, updated, removed] (each nil when empty), or nil.
func (s *State) appendChanges(b []byte) []byte {
	if !s.hasChanges() {
		return protocol.AppendNil(b)
	}
	b = append(b, 0x93)
	if na := s.liveAdded(); na == 0 {
		b = protocol.AppendNil(b)
	} else {
		b = protocol.AppendMapHeader(b, na)
		for _, e := range s.added {
			if e.gone {
				continue
			}
			b = protocol.AppendUint(b, uint64(e.id))
			b = e.appendFields(b, false, false)
		}
	}
	n := 0
	for _, e := range s.dirty {
		if !e.gone && e.countFields(false, true) > 0 {
			n++
		}
	}
	if n == 0 {
		b = protocol.AppendNil(b)
	} else {
		b = protocol.AppendMapHeader(b, n)
		for _, e := range s.dirty {
			if !e.gone && e.countFields(false, true) > 0 {
				b = protocol.AppendUint(b, uint64(e.id))
				b = e.appendFields(b, false, true)
			}
		}
	}
	if len(s.removed) == 0 {
		return protocol.AppendNil(b)
	}
	b = protocol.AppendArrayHeader(b, len(s.removed))
	for _, id := range s.removed {
		b = protocol.AppendUint(b, uint64(id))
	}
	return b
}

// appendPrivate appends map{entity: {key: value}} of the changed private fields owned by pid,
// or nil when there are none. full sends every private field of pid's entities instead.
func (s *State) appendPrivate(b []byte, pid uint32, full bool) []byte {
	list := s.private
	if full {
		list = make([]*Entity, 0, len(s.ents))
		for _, id := range s.sortedIDs() {
			list = append(list, s.ents[id])
		}
	}
	n := 0
	for _, e := range list {
		if e.privateFor(pid, !full) {
			n++
		}
	}
	if n == 0 {
		return protocol.AppendNil(b)
	}
	b = protocol.AppendMapHeader(b, n)
	for _, e := range list {
		if e.privateFor(pid, !full) {
			b = protocol.AppendUint(b, uint64(e.id))
			if e.owner != pid {
				b = protocol.AppendNil(b) // no longer yours: drop its private fields
				continue
			}
			b = e.appendFields(b, true, !full)
		}
	}
	return b
}

// privateFor reports whether e has private fields (changed ones only, if onlyDirty) for pid,
// or (not full) pid lost it this tick and must drop them.
func (e *Entity) privateFor(pid uint32, onlyDirty bool) bool {
	if e.gone {
		return false
	}
	return e.owner == pid && e.countFields(true, onlyDirty) > 0 || onlyDirty && e.lostBy(pid)
}

// hasPrivateFor reports whether pid has private changes this tick.
func (s *State) hasPrivateFor(pid uint32) bool {
	for _, e := range s.private {
		if e.privateFor(pid, true) {
			return true
		}
	}
	return false
}

// lostOwners calls fn for every pid that lost the ownership of an entity this tick.
func (s *State) lostOwners(fn func(pid uint32)) {
	for _, e := range s.private {
		if e.gone {
			continue
		}
		for _, pid := range e.lost {
			if pid != e.owner {
				fn(pid)
			}
		}
	}
}

// appendSnapshot appends map{entity: {key: value}} of every entity's public fields.
func (s *State) appendSnapshot(b []byte) []byte {
	ids := s.sortedIDs()
	b = protocol.AppendMapHeader(b, len(ids))
	for _, id := range ids {
		b = protocol.AppendUint(b, uint64(id))
		b = s.ents[id].appendFields(b, false, false)
	}
	return b
}

// clearChanges forgets this tick's changes (after they were encoded).
func (s *State) clearChanges() {
	for _, e := range s.added {
		e.added = false
		e.clearDirty()
	}
	for _, e := range s.dirty {
		e.dirty = false
		e.clearDirty()
	}
	for _, e := range s.private {
		e.pdirty = false
		e.lost = e.lost[:0]
		e.clearDirty()
	}
	clear(s.added)
	clear(s.dirty)
	clear(s.private)
	s.added, s.dirty, s.private, s.removed = s.added[:0], s.dirty[:0], s.private[:0], s.removed[:0]
}

func (e *Entity) clearDirty() {
	for i := range e.fields {
		e.fields[i].dirty = false
	}
}
