package matchmaking

import (
	"context"
	"sync"
	"time"
)

// MemoryStore is the in-memory Store of a single instance. Safe for concurrent use; mu guards
// everything and is never held while calling out.
type MemoryStore struct {
	mu      sync.Mutex
	max     int
	tickets map[string]*memTicket
	queues  map[string]map[string]*memTicket // searching tickets per queue
	live    map[string]string                // player → live ticket id
	nLive   int                              // live tickets
	done    []doneEntry                      // finished tickets, oldest first (Sweep)
}

type memTicket struct {
	t       *Ticket       // the current snapshot (replaced on every change)
	changed chan struct{} // closed and replaced on every change
}

type doneEntry struct {
	id string
	at time.Time
}

// NewMemoryStore returns a store holding at most maxLive live tickets.
func NewMemoryStore(maxLive int) *MemoryStore {
	return &MemoryStore{max: maxLive, tickets: map[string]*memTicket{}, queues: map[string]map[string]*memTicket{}, live: map[string]string{}}
}

func (s *MemoryStore) Add(_ context.Context, t *Ticket) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range t.Members {
		if _, ok := s.live[m.ID]; ok {
			return ErrLiveTicket
		}
	}
	if s.nLive >= s.max {
		return ErrCapacity
	}
	if _, dup := s.tickets[t.ID]; dup {
		return ErrLiveTicket
	}
	mt := &memTicket{t: t.Clone(), changed: make(chan struct{})}
	s.tickets[t.ID] = mt
	q := s.queues[t.Queue]
	if q == nil {
		q = map[string]*memTicket{}
		s.queues[t.Queue] = q
	}
	q[t.ID] = mt
	for _, m := range t.Members {
		s.live[m.ID] = t.ID
	}
	s.nLive++
	return nil
}

func (s *MemoryStore) Get(_ context.Context, id string) (*Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mt := s.tickets[id]
	if mt == nil {
		return nil, ErrNoTicket
	}
	return mt.t, nil
}

func (s *MemoryStore) Live(_ context.Context, player string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.live[player]
	return id, ok, nil
}

func (s *MemoryStore) Searching(_ context.Context, queue string) ([]*Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Ticket, 0, len(s.queues[queue]))
	for _, mt := range s.queues[queue] {
		if !mt.t.Placing {
			out = append(out, mt.t)
		}
	}
	return out, nil
}

// update replaces mt's snapshot with a changed copy and wakes its watchers (mu held).
func (s *MemoryStore) update(mt *memTicket, f func(t *Ticket)) *Ticket {
	c := mt.t.Clone()
	f(c)
	c.Version++
	mt.t = c
	close(mt.changed)
	mt.changed = make(chan struct{})
	if c.Status.Terminal() {
		delete(s.queues[c.Queue], c.ID)
		for _, m := range c.Members {
			if s.live[m.ID] == c.ID {
				delete(s.live, m.ID)
			}
		}
		s.done = append(s.done, doneEntry{c.ID, c.Ended})
		s.nLive--
	}
	return c
}

func (s *MemoryStore) Claim(_ context.Context, _ Fence, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		mt := s.tickets[id]
		if mt == nil || mt.t.Status != Searching || mt.t.Placing {
			return errClaimed
		}
	}
	for _, id := range ids {
		s.update(s.tickets[id], func(t *Ticket) { t.Placing, t.Claimed = true, time.Now() })
	}
	return nil
}

func (s *MemoryStore) Requeue(_ context.Context, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if mt := s.tickets[id]; mt != nil && mt.t.Placing {
			s.update(mt, func(t *Ticket) { t.Placing = false; t.Attempts++ })
		}
	}
	return nil
}

func (s *MemoryStore) Finish(_ context.Context, _ Fence, id string, o Outcome) (*Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mt := s.tickets[id]
	if mt == nil {
		return nil, ErrNoTicket
	}
	if mt.t.Status != Searching {
		return mt.t, errNotSearching
	}
	return s.update(mt, func(t *Ticket) {
		t.Status, t.Reason, t.Seats, t.Window, t.Ended, t.Placing = o.Status, o.Reason, o.Seats, o.Window, o.At, false
	}), nil
}

func (s *MemoryStore) FinishAll(_ context.Context, _ Fence, ids []string, os []Outcome) ([]*Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		mt := s.tickets[id]
		if mt == nil {
			return nil, ErrNoTicket
		}
		if mt.t.Status != Searching {
			return nil, errNotSearching
		}
	}
	out := make([]*Ticket, len(ids))
	for i, id := range ids {
		o := os[i]
		out[i] = s.update(s.tickets[id], func(t *Ticket) {
			t.Status, t.Reason, t.Seats, t.Window, t.Ended, t.Placing = o.Status, o.Reason, o.Seats, o.Window, o.At, false
		})
	}
	return out, nil
}

func (s *MemoryStore) Cancel(_ context.Context, id, player string) (*Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mt := s.tickets[id]
	if mt == nil {
		return nil, ErrNoTicket
	}
	switch {
	case !mt.t.Has(player):
		return nil, ErrNotYours
	case mt.t.Status != Searching:
		return mt.t, ErrFinished
	case mt.t.Placing:
		return mt.t, ErrPlacing
	}
	return s.update(mt, func(t *Ticket) {
		t.Status, t.Reason, t.Ended = Cancelled, "cancelled by "+player, time.Now()
	}), nil
}

func (s *MemoryStore) Changed(_ context.Context, id string, version uint64) (<-chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mt := s.tickets[id]
	if mt == nil {
		return nil, ErrNoTicket
	}
	if mt.t.Version != version {
		c := make(chan struct{})
		close(c)
		return c, nil
	}
	return mt.changed, nil
}

func (s *MemoryStore) Sweep(now time.Time, retain time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := 0
	for ; i < len(s.done) && now.Sub(s.done[i].at) >= retain; i++ {
		delete(s.tickets, s.done[i].id)
	}
	s.done = append(s.done[:0], s.done[i:]...)
}

func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nLive
}
