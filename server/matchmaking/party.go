package matchmaking

import (
	"context"
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

// PartyStore keeps parties: Parties in this instance's memory, RedisParties shared by a
// cluster (a party made on one instance is joined with its code on any other). Parties it
// hands out are copies.
type PartyStore interface {
	// Create makes a party led by leader (ErrInParty if they are in one; ErrCapacity).
	Create(ctx context.Context, leader Member) (*Party, error)
	// Join adds m to the party with the invite code (ErrNoParty, ErrInParty, ErrPartyBusy
	// while it has a live ticket, ErrPartyFull).
	Join(ctx context.Context, code string, m Member) (*Party, error)
	// Leave removes player from party id; the next member leads when the leader leaves, and
	// the party ends with its last member. ErrPartyBusy while the party has a live ticket.
	Leave(ctx context.Context, id, player string) error
	// Get returns party id to one of its members (ErrNoParty, ErrNotYours).
	Get(ctx context.Context, id, player string) (*Party, error)
	// Lock freezes player's party (if any) for ticket: only its leader may queue it
	// (ErrNotLeader), one live ticket at a time (ErrLiveTicket), and no one joins or leaves
	// until Unlock(party, ticket). Nil, nil for a player in no party.
	Lock(ctx context.Context, player, ticket string) (*Party, error)
	Unlock(ctx context.Context, id, ticket string)
	// Len is the number of parties.
	Len() int
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

// Create implements PartyStore.
func (ps *Parties) Create(_ context.Context, leader Member) (*Party, error) {
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

// Join implements PartyStore.
func (ps *Parties) Join(_ context.Context, code string, m Member) (*Party, error) {
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

// Leave implements PartyStore.
func (ps *Parties) Leave(_ context.Context, id, player string) error {
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

// Get implements PartyStore.
func (ps *Parties) Get(_ context.Context, id, player string) (*Party, error) {
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

// Len is the number of parties.
func (ps *Parties) Len() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.byID)
}

// Lock implements PartyStore.
func (ps *Parties) Lock(_ context.Context, player, ticket string) (*Party, error) {
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

// Unlock implements PartyStore.
func (ps *Parties) Unlock(_ context.Context, id, ticket string) {
	if id == "" {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p := ps.byID[id]; p != nil && p.Ticket == ticket {
		p.Ticket = ""
	}
}
