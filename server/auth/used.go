package auth

import (
	"container/heap"
	"sync"
	"time"
)

// usedSet remembers consumed join tickets (by jti) until they expire. It is bounded: when
// full it refuses new tickets rather than forget used ones (forgetting would allow replays).
type usedSet struct {
	mu   sync.Mutex
	max  int
	byID map[string]struct{}
	q    expiryHeap
	// high is the latest time seen. Entries are forgotten against it, never against a clock
	// that stepped back, and a ticket whose forget time is not after it is refused: so a
	// forgotten ticket can never be accepted again, even if the wall clock goes backwards.
	high time.Time
}

func newUsedSet(max int) *usedSet {
	return &usedSet{max: max, byID: make(map[string]struct{})}
}

// use records jti (to be forgotten at forgetAt) or says why the ticket is refused.
func (u *usedSet) use(jti string, forgetAt, now time.Time) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.advance(now)
	if !forgetAt.After(u.high) {
		return invalid(reasonExpired)
	}
	if _, ok := u.byID[jti]; ok {
		return invalid(reasonUsed)
	}
	if len(u.byID) >= u.max {
		return &tokenError{reason: reasonCapacity, cause: ErrJoinCapacity}
	}
	u.byID[jti] = struct{}{}
	heap.Push(&u.q, entry{at: forgetAt, jti: jti})
	return nil
}

// full reports whether no ticket could be recorded now.
func (u *usedSet) full(now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.advance(now)
	return len(u.byID) >= u.max
}

func (u *usedSet) len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.byID)
}

// advance moves the high-water clock and forgets what expired by it. Amortised O(log n).
func (u *usedSet) advance(now time.Time) {
	if now.After(u.high) {
		u.high = now
	}
	for len(u.q) > 0 && !u.q[0].at.After(u.high) {
		e := heap.Pop(&u.q).(entry)
		delete(u.byID, e.jti)
	}
}

type entry struct {
	at  time.Time
	jti string
}

type expiryHeap []entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = entry{}
	*h = old[:len(old)-1]
	return e
}
