package matchmaking

import (
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Party is players who queue together: the leader's ticket matches all of them, in one match
// and one team.
type Party struct {
	ID      string    `json:"id"`
	Code    string    `json:"code"` // the invite code others join with
	Leader  string    `json:"leader"`
	Members []Member  `json:"members"` // the leader first
	Created time.Time `json:"created_at"`
	Ticket  string    `json:"ticket,omitempty"` // the live ticket, while one is open
}

// Parties holds the parties of this instance. Safe for concurrent use (mu guards all).
type Parties struct {
	mu       sync.Mutex
	max      int
	maxSize  int
	byID     map[string]*Party
	byCode   map[string]*Party
	byPlayer map[string]*Party
}

func newParties(max, maxSize int) *Parties {
	return &Parties{max: max, maxSize: maxSize, byID: map[string]*Party{}, byCode: map[string]*Party{}, byPlayer: map[string]*Party{}}
}

const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" // no 0/O, 1/I

func newCode() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b[:])
}

func (p *Party) copy() *Party {
	c := *p
	c.Members = append([]Member(nil), p.Members...)
	return &c
}

// Create makes a party led by leader (ErrInParty if they are in one).
func (ps *Parties) Create(leader Member) (*Party, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.byPlayer[leader.ID] != nil {
		return nil, ErrInParty
	}
	if len(ps.byID) >= ps.max {
		return nil, fmt.Errorf("%w: %d parties", ErrCapacity, ps.max)
	}
	p := &Party{ID: "p-" + rand.Text()[:16], Leader: leader.ID, Members: []Member{leader}, Created: time.Now().UTC()}
	for p.Code == "" || ps.byCode[p.Code] != nil {
		p.Code = newCode()
	}
	ps.byID[p.ID], ps.byCode[p.Code], ps.byPlayer[leader.ID] = p, p, p
	return p.copy(), nil
}

// Join adds m to the party with the invite code.
func (ps *Parties) Join(code string, m Member) (*Party, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.byCode[strings.ToUpper(strings.TrimSpace(code))]
	switch {
	case p == nil:
		return nil, fmt.Errorf("%w: no party has this code", ErrNoParty)
	case ps.byPlayer[m.ID] == p:
		return p.copy(), nil
	case ps.byPlayer[m.ID] != nil:
		return nil, ErrInParty
	case p.Ticket != "":
		return nil, ErrPartyBusy
	case len(p.Members) >= ps.maxSize:
		return nil, fmt.Errorf("%w: at most %d players", ErrPartyFull, ps.maxSize)
	}
	p.Members = append(p.Members, m)
	ps.byPlayer[m.ID] = p
	return p.copy(), nil
}

// Leave removes player from party id; the next member leads when the leader leaves, and the
// party ends with its last member. Refused while the party has a live ticket.
func (ps *Parties) Leave(id, player string) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.byID[id]
	switch {
	case p == nil:
		return ErrNoParty
	case ps.byPlayer[player] != p:
		return ErrNotYours
	case p.Ticket != "":
		return fmt.Errorf("%w: cancel ticket %s first", ErrPartyBusy, p.Ticket)
	}
	delete(ps.byPlayer, player)
	for i, m := range p.Members {
		if m.ID == player {
			p.Members = append(p.Members[:i], p.Members[i+1:]...)
			break
		}
	}
	if len(p.Members) == 0 {
		delete(ps.byID, p.ID)
		delete(ps.byCode, p.Code)
		return nil
	}
	if p.Leader == player {
		p.Leader = p.Members[0].ID
	}
	return nil
}

// Get returns party id to one of its members.
func (ps *Parties) Get(id, player string) (*Party, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.byID[id]
	if p == nil {
		return nil, ErrNoParty
	}
	if ps.byPlayer[player] != p {
		return nil, ErrNotYours
	}
	return p.copy(), nil
}

// Of is player's party, if any.
func (ps *Parties) Of(player string) (*Party, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.byPlayer[player]
	if p == nil {
		return nil, false
	}
	return p.copy(), true
}

// Len is the number of parties.
func (ps *Parties) Len() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.byID)
}

// lockFor freezes player's party (if any) for ticket: only its leader may queue it, and no one
// joins or leaves until the ticket has its outcome (unlock). Nil, nil for a player in no party.
func (ps *Parties) lockFor(player, ticket string) (*Party, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.byPlayer[player]
	switch {
	case p == nil:
		return nil, nil
	case p.Leader != player:
		return nil, ErrNotLeader
	case p.Ticket != "":
		return nil, ErrLiveTicket
	}
	p.Ticket = ticket
	return p.copy(), nil
}

func (ps *Parties) unlock(id, ticket string) {
	if id == "" {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p := ps.byID[id]; p != nil && p.Ticket == ticket {
		p.Ticket = ""
	}
}
