package game

import (
	"sync"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// EndedMatch is what the registry remembers of a match after it ended, so that its result
// stays readable (GET /v1/matches/{id}) and a late JOIN is told MATCH_ENDED, not NOT_FOUND.
type EndedMatch struct {
	Info    Info               // the last Info, with Ended set
	Reason  protocol.EndReason // why it ended
	Result  []byte             // the END result (msgpack), nil when none
	EndedAt time.Time
}

// endedLog keeps the most recently ended matches for a while: at most max of them, each for
// keep. Overflow policy: the oldest entry is forgotten first. Safe for concurrent use.
type endedLog struct {
	keep time.Duration
	max  int

	mu    sync.Mutex
	byID  map[string]EndedMatch
	order []endedAt // oldest first (may name entries already replaced)
}

type endedAt struct {
	id string
	at time.Time
}

func newEndedLog(keep time.Duration, max int) *endedLog {
	return &endedLog{keep: keep, max: max, byID: map[string]EndedMatch{}}
}

func (l *endedLog) add(e EndedMatch) {
	if l.keep <= 0 || l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byID[e.Info.ID] = e
	l.order = append(l.order, endedAt{e.Info.ID, e.EndedAt})
	l.trim(e.EndedAt)
}

// trim forgets entries past keep and beyond max, oldest first. Called with mu held.
func (l *endedLog) trim(now time.Time) {
	n := 0
	for n < len(l.order) {
		o := l.order[n]
		cur, ok := l.byID[o.id]
		live := ok && cur.EndedAt.Equal(o.at) // else an older entry of a re-used id
		if live && len(l.byID) <= l.max && now.Sub(o.at) < l.keep {
			break
		}
		if live {
			delete(l.byID, o.id)
		}
		n++
	}
	l.order = append(l.order[:0], l.order[n:]...)
}

func (l *endedLog) get(id string, now time.Time) (EndedMatch, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byID[id]
	if ok && now.Sub(e.EndedAt) >= l.keep {
		delete(l.byID, id)
		return EndedMatch{}, false
	}
	return e, ok
}

// Ended returns a match that ended within the registry's EndedRetention (and among its last
// EndedMax), with its final info and result.
func (r *Registry) Ended(id string) (EndedMatch, bool) { return r.ended.get(id, r.clock.Now()) }
