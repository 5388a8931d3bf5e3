package cluster

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// MemoryDirectory is a Directory in process memory: shared by the simulated instances of one
// test, with a clock the test may step (DirectoryConfig.Now).
type MemoryDirectory struct {
	cfg DirectoryConfig

	mu      sync.Mutex // guards the maps
	nodes   map[string]memNode
	entries map[string]memEntry
	fences  map[string]memFence
	once    map[string]time.Time // key → expiry
	pruneAt int                  // prune expired once keys when len(once) reaches it
	closed  bool
}

type memNode struct {
	info    NodeInfo
	expires time.Time
}

type memEntry struct {
	e       MatchEntry
	expires time.Time
}

type memFence struct {
	epoch   uint32
	node    string
	expires time.Time
}

var _ Directory = (*MemoryDirectory)(nil)

// NewMemoryDirectory returns an empty in-memory directory.
func NewMemoryDirectory(cfg DirectoryConfig) *MemoryDirectory {
	return &MemoryDirectory{cfg: cfg.withDefaults(), nodes: map[string]memNode{}, entries: map[string]memEntry{},
		fences: map[string]memFence{}, once: map[string]time.Time{}}
}

func (d *MemoryDirectory) lock() (time.Time, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return time.Time{}, ErrClosed
	}
	return d.cfg.Now(), nil
}

// Heartbeat implements Directory.
func (d *MemoryDirectory) Heartbeat(_ context.Context, n NodeInfo) error {
	if err := validName(n.Name); err != nil {
		return err
	}
	now, err := d.lock()
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	d.nodes[n.Name] = memNode{info: n, expires: now.Add(d.cfg.NodeTTL)}
	return nil
}

// Nodes implements Directory.
func (d *MemoryDirectory) Nodes(context.Context) ([]NodeInfo, error) {
	now, err := d.lock()
	if err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	out := make([]NodeInfo, 0, len(d.nodes))
	for name, n := range d.nodes {
		if !now.Before(n.expires) {
			delete(d.nodes, name)
			continue
		}
		out = append(out, n.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// live returns id's entry if its lease has not expired (d.mu held).
func (d *MemoryDirectory) live(id string, now time.Time) (memEntry, bool) {
	x, ok := d.entries[id]
	if ok && !now.Before(x.expires) {
		delete(d.entries, id)
		return memEntry{}, false
	}
	return x, ok
}

// take applies the claim rules of Directory to e (d.mu held).
func (d *MemoryDirectory) take(e MatchEntry, now time.Time) error {
	if x, ok := d.live(e.ID, now); ok {
		switch {
		case x.e.Node != e.Node:
			return fmt.Errorf("%w: %s by %s", ErrTaken, e.ID, x.e.Node)
		case x.e.Epoch > e.Epoch:
			return fmt.Errorf("%w: %s epoch %d < %d", ErrFenced, e.ID, e.Epoch, x.e.Epoch)
		}
	} else if f, ok := d.fences[e.ID]; ok && now.Before(f.expires) {
		if e.Epoch < f.epoch || (e.Epoch == f.epoch && e.Node != f.node) {
			return fmt.Errorf("%w: %s epoch %d of %s, fence %d of %s", ErrFenced, e.ID, e.Epoch, e.Node, f.epoch, f.node)
		}
	}
	d.entries[e.ID] = memEntry{e: e, expires: now.Add(d.cfg.LeaseTTL)}
	d.fences[e.ID] = memFence{epoch: e.Epoch, node: e.Node, expires: now.Add(d.cfg.FenceTTL)}
	return nil
}

// Claim implements Directory.
func (d *MemoryDirectory) Claim(_ context.Context, e MatchEntry) error {
	if err := validEntry(e); err != nil {
		return err
	}
	now, err := d.lock()
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	return d.take(e, now)
}

// Refresh implements Directory.
func (d *MemoryDirectory) Refresh(_ context.Context, node string, es []MatchEntry) ([]string, error) {
	if err := validRefresh(node, es); err != nil {
		return nil, err
	}
	now, err := d.lock()
	if err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	var lost []string
	for _, e := range es {
		if x, ok := d.live(e.ID, now); ok && (x.e.Node != node || x.e.Epoch != e.Epoch) {
			lost = append(lost, e.ID)
			continue
		}
		if d.take(e, now) != nil {
			lost = append(lost, e.ID)
		}
	}
	return lost, nil
}

// Lookup implements Directory.
func (d *MemoryDirectory) Lookup(_ context.Context, id string) (MatchEntry, error) {
	now, err := d.lock()
	if err != nil {
		return MatchEntry{}, err
	}
	defer d.mu.Unlock()
	if x, ok := d.live(id, now); ok {
		return x.e, nil
	}
	return MatchEntry{}, fmt.Errorf("%w: match %q", ErrNotFound, id)
}

// Release implements Directory.
func (d *MemoryDirectory) Release(_ context.Context, id, node string, epoch uint32) error {
	now, err := d.lock()
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	x, ok := d.live(id, now)
	if !ok {
		return nil
	}
	if x.e.Node != node || x.e.Epoch != epoch {
		return fmt.Errorf("%w: %s held by %s epoch %d", ErrFenced, id, x.e.Node, x.e.Epoch)
	}
	delete(d.entries, id)
	return nil
}

// List implements Directory: ids in order, the cursor is the last id returned.
func (d *MemoryDirectory) List(_ context.Context, cursor string, limit int) ([]MatchEntry, string, error) {
	if limit < 1 || limit > MaxListLimit {
		return nil, "", fmt.Errorf("%w: limit %d", ErrInvalid, limit)
	}
	now, err := d.lock()
	if err != nil {
		return nil, "", err
	}
	defer d.mu.Unlock()
	ids := make([]string, 0, len(d.entries))
	for id := range d.entries {
		if _, ok := d.live(id, now); ok && id > cursor {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	next := ""
	if len(ids) > limit {
		ids = ids[:limit]
		next = ids[limit-1]
	}
	out := make([]MatchEntry, len(ids))
	for i, id := range ids {
		out[i] = d.entries[id].e
	}
	return out, next, nil
}

// UseOnce implements Directory.
func (d *MemoryDirectory) UseOnce(_ context.Context, key string, ttl time.Duration) (bool, error) {
	if key == "" || ttl <= 0 {
		return false, fmt.Errorf("%w: key %q ttl %v", ErrInvalid, key, ttl)
	}
	now, err := d.lock()
	if err != nil {
		return false, err
	}
	defer d.mu.Unlock()
	if exp, ok := d.once[key]; ok && now.Before(exp) {
		return false, nil
	}
	d.once[key] = now.Add(ttl)
	if len(d.once) >= d.pruneAt { // amortised: prune when the map doubled since the last time
		for k, exp := range d.once {
			if !now.Before(exp) {
				delete(d.once, k)
			}
		}
		d.pruneAt = max(1024, 2*len(d.once))
	}
	return true, nil
}

// Close implements Directory.
func (d *MemoryDirectory) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	return nil
}

func validEntry(e MatchEntry) error {
	if err := validName(e.ID); err != nil {
		return err
	}
	return validName(e.Node)
}

func validRefresh(node string, es []MatchEntry) error {
	if len(es) > MaxRefreshBatch {
		return fmt.Errorf("%w: %d entries in one refresh (max %d)", ErrInvalid, len(es), MaxRefreshBatch)
	}
	for _, e := range es {
		if err := validEntry(e); err != nil {
			return err
		}
		if e.Node != node {
			return fmt.Errorf("%w: entry %s of node %s refreshed by %s", ErrInvalid, e.ID, e.Node, node)
		}
	}
	return nil
}
