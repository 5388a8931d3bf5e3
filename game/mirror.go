package game

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/tickrelay/tickrelay/protocol"
)

// Mirror is a client's copy of a match's state, rebuilt from JOINED and DELTA frames exactly as
// PROTOCOL.md says a client must: a delta is applied only on the base it names. It is the
// reference client used by tests, the load generator and Go clients. Field values are kept as
// their msgpack bytes.
type Mirror struct {
	PID     uint32
	Epoch   uint32
	Tick    uint32
	Ack     uint32
	Joined  bool
	Public  map[uint32]map[uint32]string
	Private map[uint32]map[uint32]string
	Events  int // events seen (shared and direct)
}

// ErrGap means a delta did not follow the mirror's tick: the client must SYNC.
var ErrGap = errors.New("mirror: delta does not follow the last tick")

// ErrStale means a delta was already applied (same epoch, tick at or below the mirror's): a
// duplicate, e.g. right after a CATCHUP. The client ignores it.
var ErrStale = errors.New("mirror: delta already applied")

// Fit says how a DELTA (epoch, tick, since) relates to a client's state at (epoch, tick), by
// PROTOCOL.md's rules; the Mirror, the load generator and the stream vectors share it.
type Fit uint8

const (
	FitOK    Fit = iota // applies: same epoch and tick - since is the client's tick
	FitStale            // a duplicate: same epoch, tick at or below the client's; ignore it
	FitGap              // something was missed (or another epoch): SYNC, apply nothing until answered
)

func (f Fit) String() string { return [...]string{"ok", "stale", "gap"}[f] }

// FitDelta applies PROTOCOL.md's rule to a delta d for a client whose state is at (epoch,
// tick); ready is false before its first snapshot.
func FitDelta(ready bool, epoch, tick uint32, d *protocol.ServerMsg) Fit {
	switch {
	case !ready || d.Epoch != epoch || d.Since == 0:
		return FitGap
	case d.Tick-d.Since == tick:
		return FitOK
	case d.Tick <= tick:
		return FitStale
	}
	return FitGap
}

// ApplyJoined replaces the mirror's whole state with a JOINED.
func (mi *Mirror) ApplyJoined(m *protocol.ServerMsg) error {
	mi.PID, mi.Epoch, mi.Tick, mi.Joined, mi.Ack = m.PID, m.Epoch, m.Tick, true, m.Ack
	mi.Public, mi.Private = map[uint32]map[uint32]string{}, map[uint32]map[uint32]string{}
	if err := applyEntityMap(mi.Public, m.State); err != nil {
		return err
	}
	return applyEntityMap(mi.Private, m.Private)
}

// ApplyCatchup checks that a CATCHUP names the mirror's tick (the deltas after it follow).
func (mi *Mirror) ApplyCatchup(m *protocol.ServerMsg) error {
	if m.Epoch != mi.Epoch || m.Tick != mi.Tick {
		return fmt.Errorf("%w: catch-up from %d/%d, mirror at %d/%d", ErrGap, m.Epoch, m.Tick, mi.Epoch, mi.Tick)
	}
	return nil
}

// ApplyDelta applies a DELTA, or returns ErrStale (a duplicate: ignore it) or ErrGap (SYNC)
// without touching anything.
func (mi *Mirror) ApplyDelta(m *protocol.ServerMsg) error {
	switch FitDelta(mi.Joined, mi.Epoch, mi.Tick, m) {
	case FitStale:
		return fmt.Errorf("%w: delta %d/%d, mirror at %d/%d", ErrStale, m.Epoch, m.Tick, mi.Epoch, mi.Tick)
	case FitGap:
		return fmt.Errorf("%w: delta %d/%d since %d, mirror at %d/%d", ErrGap, m.Epoch, m.Tick, m.Since, mi.Epoch, mi.Tick)
	}
	if len(m.Changes) > 0 {
		r := protocol.NewReader(m.Changes)
		if n, err := r.ArrayLen(); err != nil || n != 3 {
			return fmt.Errorf("mirror: changes: %v", err)
		}
		added, _ := r.Raw(1)
		updated, _ := r.Raw(1)
		removed, err := r.Raw(1)
		if err != nil {
			return err
		}
		// Removed first: an id removed and spawned again in one tick is in both lists.
		if len(removed) > 0 && removed[0] != 0xc0 {
			rr := protocol.NewReader(removed)
			n, err := rr.ArrayLen()
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				id, err := rr.Uint32()
				if err != nil {
					return err
				}
				delete(mi.Public, id)
				delete(mi.Private, id)
			}
		}
		if err := applyEntityMap(mi.Public, added); err != nil {
			return err
		}
		if err := applyEntityMap(mi.Public, updated); err != nil {
			return err
		}
	}
	if err := applyEntityMap(mi.Private, m.Private); err != nil {
		return err
	}
	mi.Events += countArray(m.Events) + countArray(m.Direct)
	if m.HasAck {
		mi.Ack = m.Ack
	}
	mi.Tick = m.Tick
	return nil
}

func countArray(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	r := protocol.NewReader(b)
	n, _ := r.ArrayLen()
	return n
}

func applyEntityMap(dst map[uint32]map[uint32]string, b []byte) error {
	if len(b) == 0 || b[0] == 0xc0 {
		return nil
	}
	r := protocol.NewReader(b)
	n, err := r.MapLen()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		id, err := r.Uint32()
		if err != nil {
			return err
		}
		if r.TryNil() { // private only: the entity is no longer yours
			delete(dst, id)
			continue
		}
		k, err := r.MapLen()
		if err != nil {
			return err
		}
		e := dst[id]
		if e == nil {
			e = map[uint32]string{}
			dst[id] = e
		}
		for j := 0; j < k; j++ {
			key, err := r.Uint32()
			if err != nil {
				return err
			}
			v, err := r.Raw(3)
			if err != nil {
				return err
			}
			e[key] = string(v)
		}
	}
	return nil
}

// Checksum hashes the mirror's public and private fields in a canonical order.
func (mi *Mirror) Checksum() uint64 { return checksum(mi.Public, mi.Private) }

func checksum(pub, priv map[uint32]map[uint32]string) uint64 {
	h := fnv.New64a()
	for _, part := range []map[uint32]map[uint32]string{pub, priv} {
		ids := make([]uint32, 0, len(part))
		for id := range part {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			keys := make([]uint32, 0, len(part[id]))
			for k := range part[id] {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			fmt.Fprintf(h, "e%d|", id)
			for _, k := range keys {
				fmt.Fprintf(h, "%d=%x|", k, part[id][k])
			}
		}
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// ViewChecksum hashes what player pid may see of the state (public fields of every entity,
// private fields of the entities it owns), comparable with Mirror.Checksum. Match goroutine only.
func (s *State) ViewChecksum(pid uint32) uint64 { return checksum(s.view(pid)) }

// view is what player pid may see, in the Mirror's representation.
func (s *State) view(pid uint32) (pub, priv map[uint32]map[uint32]string) {
	pub, priv = map[uint32]map[uint32]string{}, map[uint32]map[uint32]string{}
	for id, e := range s.ents {
		for k := range e.fields {
			f := &e.fields[k]
			if !f.set {
				continue
			}
			dst := pub
			if f.private {
				if e.owner != pid || pid == 0 {
					continue
				}
				dst = priv
			}
			if dst[uint32(id)] == nil {
				dst[uint32(id)] = map[uint32]string{}
			}
			dst[uint32(id)][uint32(k)] = string(f.v.RawBytes())
		}
		if pub[uint32(id)] == nil {
			pub[uint32(id)] = map[uint32]string{} // an entity with no public fields still exists
		}
	}
	return pub, priv
}
