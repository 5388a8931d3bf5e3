package matchmaking

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// squad is a 2v2 queue: a party of two fills one team.
func squad() Config {
	return Config{LeaseTTL: Duration(1500 * time.Millisecond), Queues: []Queue{{Name: "squad", Game: "arena", Players: 4, Teams: 2}}}
}

// A party made on instance A is joined with its code on B; its leader's ticket, opened on B,
// carries both members, is read by the member on A, and is matched whole into one team; the
// party is frozen while the ticket lives and free again after it.
func TestRedisPartyAcrossInstances(t *testing.T) {
	rs := redistest.Start(t)
	a := startInstance(t, rs.Addr, "inst-a", squad())
	b := startInstance(t, rs.Addr, "inst-b", squad())
	ctx := context.Background()
	leader, mate := Member{ID: "leader", Name: "L"}, Member{ID: "mate", Name: "M"}
	p, err := a.mm.Parties().Create(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.mm.Parties().Create(ctx, leader); !errors.Is(err, ErrInParty) {
		t.Fatalf("the leader creates a second party on B: %v, want ErrInParty", err)
	}
	joined, err := b.mm.Parties().Join(ctx, p.Code, mate)
	if err != nil {
		t.Fatalf("joining A's party on B: %v", err)
	}
	if len(joined.Members) != 2 || joined.Leader != "leader" {
		t.Fatalf("party after the join: %+v", joined)
	}
	if _, err := b.mm.Submit(ctx, mate, Request{Queue: "squad"}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a member opens the party's ticket: %v, want ErrNotLeader", err)
	}
	tk, err := b.mm.Submit(ctx, leader, Request{Queue: "squad", Properties: map[string]any{"skill": 1500.0}})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Party != p.ID || len(tk.Members) != 2 {
		t.Fatalf("the leader's ticket: party %q, members %v", tk.Party, tk.Members)
	}
	if _, err := a.mm.Parties().Join(ctx, p.Code, Member{ID: "late"}); !errors.Is(err, ErrPartyBusy) {
		t.Fatalf("joining a party whose ticket is live: %v, want ErrPartyBusy", err)
	}
	if err := a.mm.Parties().Leave(ctx, p.ID, "mate"); !errors.Is(err, ErrPartyBusy) {
		t.Fatalf("leaving a party whose ticket is live: %v, want ErrPartyBusy", err)
	}
	if _, err := a.mm.Submit(ctx, mate, Request{Queue: "squad"}); !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrLiveTicket) {
		t.Fatalf("the member queues alone meanwhile: %v", err)
	}
	for _, id := range []string{"solo-1", "solo-2"} {
		if _, err := a.mm.Submit(ctx, Member{ID: id}, Request{Queue: "squad", Properties: map[string]any{"skill": 1500.0}}); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	got, err := a.mm.Wait(wctx, tk.ID, "mate", Searching) // the member, on the other instance
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Matched || len(got.Seats) != 2 {
		t.Fatalf("the party's ticket: %s with %d seats", got.Status, len(got.Seats))
	}
	ls, _ := got.SeatOf("leader")
	ms, _ := got.SeatOf("mate")
	if ls.MatchID == "" || ls.MatchID != ms.MatchID || ls.Team == 0 || ls.Team != ms.Team {
		t.Fatalf("the party was split: leader %+v, mate %+v", ls, ms)
	}
	// Once the ticket has its outcome the party is free again, on both instances.
	waitFor(t, 5*time.Second, "the party unlocked", func() bool {
		q, err := b.mm.Parties().Get(ctx, p.ID, "mate")
		return err == nil && q.Ticket == ""
	})
	if err := b.mm.Parties().Leave(ctx, p.ID, "mate"); err != nil {
		t.Fatalf("leaving after the match: %v", err)
	}
	q, err := a.mm.Parties().Get(ctx, p.ID, "leader")
	if err != nil || len(q.Members) != 1 {
		t.Fatalf("the party after the mate left on B: %+v %v", q, err)
	}
	if err := a.mm.Parties().Leave(ctx, p.ID, "leader"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.mm.Parties().Get(ctx, p.ID, "leader"); !errors.Is(err, ErrNoParty) {
		t.Fatalf("the party after its last member left: %v, want ErrNoParty", err)
	}
}

// A party lock whose ticket is gone (its instance died before it could unlock, or the feed
// lost the message) is taken as released; so is a live key naming a ticket that never entered
// its queue. Party keys expire after PartyTTL, and the party limit counts only live parties.
func TestRedisPartyStaleLockAndTTL(t *testing.T) {
	rs := redistest.Start(t)
	cfg := squad()
	cfg.PartyTTL = Duration(300 * time.Millisecond)
	cfg.MaxParties = 1
	a := startInstance(t, rs.Addr, "inst-a", cfg)
	ctx := context.Background()
	ps := a.mm.Parties()
	p, err := ps.Create(ctx, Member{ID: "lead"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Lock(ctx, "lead", newTicketID("squad", "GONE")); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Join(ctx, p.Code, Member{ID: "friend"}); err != nil {
		t.Fatalf("joining a party locked by a ticket that does not exist: %v", err)
	}
	if _, err := ps.Create(ctx, Member{ID: "other"}); !errors.Is(err, ErrCapacity) {
		t.Fatalf("a second party over max_parties 1: %v, want ErrCapacity", err)
	}
	// A live key left by a dead instance between its two steps.
	if err := a.store.rdb.Set(ctx, a.store.lkey("lead"), newTicketID("squad", "NEVER"), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, live, _ := a.store.Live(ctx, "lead"); live {
		t.Fatal("a live key naming no ticket counts as live")
	}
	if err := a.store.rdb.Set(ctx, a.store.lkey("lead"), newTicketID("squad", "NEVER"), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.mm.Submit(ctx, Member{ID: "lead"}, Request{Queue: "squad"}); err != nil {
		t.Fatalf("queueing past a stale live key: %v", err)
	}
	// Untouched for its TTL, a party ends by itself (and frees its slot under the limit).
	q, err := ps.Create(ctx, Member{ID: "solo"})
	if !errors.Is(err, ErrCapacity) {
		t.Fatalf("create while the first party lives: %v %v", q, err)
	}
	waitFor(t, 5*time.Second, "the party to expire", func() bool {
		_, err := ps.Create(ctx, Member{ID: "solo"})
		return err == nil
	})
}
