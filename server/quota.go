package server

import (
	"sync"
	"time"
)

// matchQuota counts the live matches each user created (Config.MaxMatchesPerUser). A slot is
// taken before the match is created and bound to its id after; the registry's OnEnded frees
// it. Safe for concurrent use.
type matchQuota struct {
	mu      sync.Mutex
	max     int // < 0: no cap
	byUser  map[string]int
	byMatch map[string]string
}

func newMatchQuota(max int) *matchQuota {
	return &matchQuota{max: max, byUser: map[string]int{}, byMatch: map[string]string{}}
}

// take reserves a slot for user, or reports false when user is at the cap.
func (q *matchQuota) take(user string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.max >= 0 && q.byUser[user] >= q.max {
		return false
	}
	q.byUser[user]++
	return true
}

// bind ties user's taken slot to the match id; release gives back a slot never bound.
func (q *matchQuota) bind(user, id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.byMatch[id] = user
}

func (q *matchQuota) release(user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releaseLocked(user)
}

func (q *matchQuota) releaseLocked(user string) {
	if q.byUser[user]--; q.byUser[user] <= 0 {
		delete(q.byUser, user)
	}
}

// ended frees the slot of match id (if a user created it).
func (q *matchQuota) ended(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if user, ok := q.byMatch[id]; ok {
		delete(q.byMatch, id)
		q.releaseLocked(user)
	}
}

// holdQuota limits the live seat reservations each user holds (Config.MaxReservationsPerUser):
// a reservation counts until it expires (Config.ReservationTTL); reserving the same match again
// replaces it. Safe for concurrent use.
type holdQuota struct {
	mu     sync.Mutex
	max    int                             // < 0: no cap
	byUser map[string]map[string]time.Time // user → match → expiry
}

func newHoldQuota(max int) *holdQuota {
	return &holdQuota{max: max, byUser: map[string]map[string]time.Time{}}
}

// take records a reservation of match by user until exp, or reports false at the cap.
func (q *holdQuota) take(user, match string, now, exp time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	held := q.byUser[user]
	for m, e := range held {
		if !e.After(now) {
			delete(held, m)
		}
	}
	if _, again := held[match]; !again && q.max >= 0 && len(held) >= q.max {
		return false
	}
	if held == nil {
		held = map[string]time.Time{}
		q.byUser[user] = held
	}
	held[match] = exp
	return true
}

// drop forgets user's reservation of match (it failed, or the seat was taken).
func (q *holdQuota) drop(user, match string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if held := q.byUser[user]; held != nil {
		delete(held, match)
		if len(held) == 0 {
			delete(q.byUser, user)
		}
	}
}

// sweep forgets expired reservations (the janitor calls it).
func (q *holdQuota) sweep(now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for u, held := range q.byUser {
		for m, e := range held {
			if !e.After(now) {
				delete(held, m)
			}
		}
		if len(held) == 0 {
			delete(q.byUser, u)
		}
	}
}
