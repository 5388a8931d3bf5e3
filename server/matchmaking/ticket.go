package matchmaking

import (
	"math"
	"time"
)

// Status is a ticket's state. A ticket is searching until it ends in exactly one of the three
// others; it never changes again after that.
type Status string

const (
	Searching Status = "searching"
	Matched   Status = "matched"
	Expired   Status = "expired"
	Cancelled Status = "cancelled"
)

// Terminal reports whether s is an outcome.
func (s Status) Terminal() bool { return s == Matched || s == Expired || s == Cancelled }

// Member is a player on a ticket (the owner, or each member of a party).
type Member struct {
	ID   string `json:"player_id"`
	Name string `json:"name"`
}

// Seat is one player's reservation in the match a ticket was placed in.
type Seat struct {
	Player    string    `json:"player"`
	MatchID   string    `json:"match_id"`
	Address   string    `json:"address"` // "" means this instance (filled in per request)
	Ticket    string    `json:"ticket"`
	Seat      int       `json:"seat"`
	Team      int       `json:"team"` // 1-based; 0 when the queue has no teams
	ExpiresAt time.Time `json:"expires_at"`
}

// Ticket is a request to be matched: one player, or a party (which is matched whole, in one
// match and one team).
type Ticket struct {
	ID         string
	Queue      string
	Owner      string   // the player who opened it (a party's leader)
	Party      string   // the party's id, or ""
	Members    []Member // Owner first
	Skill      float64
	Region     string
	Properties map[string]any
	Created    time.Time
	Expires    time.Time

	Status    Status
	Placing   bool      // claimed by a placement in progress (still Searching)
	Claimed   time.Time // when Placing was set
	ClaimedBy string    // the fence token of the matcher that set it (a shared store)
	Ended     time.Time // when it reached its outcome
	Reason    string    // why it expired or was cancelled
	Seats     []Seat    // when Matched: one per member, in Members' order
	Version   uint64    // bumped on every change (long-polls wait for it to move)
	Window    float64   // the skill window in force when it was matched
	Attempts  int       // placements that failed and put it back
}

// Size is the number of players on the ticket.
func (t *Ticket) Size() int { return len(t.Members) }

// Clone copies t deeply enough to be handed out.
func (t *Ticket) Clone() *Ticket {
	c := *t
	c.Members = append([]Member(nil), t.Members...)
	c.Seats = append([]Seat(nil), t.Seats...)
	if t.Properties != nil {
		c.Properties = make(map[string]any, len(t.Properties))
		for k, v := range t.Properties {
			c.Properties[k] = v
		}
	}
	return &c
}

// SeatOf is player's seat on a matched ticket.
func (t *Ticket) SeatOf(player string) (Seat, bool) {
	for _, s := range t.Seats {
		if s.Player == player {
			return s, true
		}
	}
	return Seat{}, false
}

// Has reports whether player is on the ticket.
func (t *Ticket) Has(player string) bool {
	for _, m := range t.Members {
		if m.ID == player {
			return true
		}
	}
	return false
}

// Window is the skill window of a ticket that has waited w in q: it widens in steps.
func (q *Queue) Window(w time.Duration) float64 {
	if w < 0 {
		w = 0
	}
	steps := float64(w / q.Skill.Every.D())
	return math.Min(q.Skill.Initial+steps*q.Skill.Step, q.Skill.Max)
}

// Region levels: which regions a ticket accepts.
const (
	RegionOwn        = 0
	RegionNeighbours = 1
	RegionAny        = 2
)

// RegionLevel is the region preference in force after waiting w.
func (q *Queue) RegionLevel(w time.Duration) int {
	switch {
	case w >= q.Region.AnyAfter.D():
		return RegionAny
	case w >= q.Region.NeighboursAfter.D():
		return RegionNeighbours
	}
	return RegionOwn
}

// RegionName names a level for clients.
func RegionName(level int) string {
	return [...]string{"own", "neighbours", "any"}[level]
}

// accepts reports whether a ticket of region own at level accepts region r.
func (q *Queue) accepts(own string, level int, r string) bool {
	if own == "" || r == "" || own == r || level >= RegionAny {
		return true
	}
	if level >= RegionNeighbours {
		for _, n := range q.Region.Neighbours[own] {
			if n == r {
				return true
			}
		}
	}
	return false
}
