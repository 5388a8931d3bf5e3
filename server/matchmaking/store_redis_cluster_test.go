package matchmaking

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickrelay/tickrelay/server/cluster"
	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// clusterClient is a new client of the test's Redis Cluster rc.
func clusterClient(rc *redistest.Cluster) redis.UniversalClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.Addrs(), MaxRedirects: 3})
}

// Two instances share their queues and parties in a real 3-master Redis Cluster: each queue's
// keys are in one slot (the queues spread over the masters), tickets opened on either instance
// are matched once each, a party made on one is queued from the other, the live index refuses
// a second ticket whichever instance is asked, and the matcher's death hands the queue over.
func TestRedisClusterStore(t *testing.T) {
	rc := redistest.StartCluster(t, 3)
	cfg := squad()
	cfg.Queues = append(cfg.Queues, DefaultQueues()[0]) // duel
	a := startInstanceOn(t, clusterClient(rc), "inst-a", cfg)
	b := startInstanceOn(t, clusterClient(rc), "inst-b", cfg)
	waitFor(t, 5*time.Second, "the matchers", func() bool {
		return (a.mm.Leading("duel") || b.mm.Leading("duel")) && (a.mm.Leading("squad") || b.mm.Leading("squad"))
	})
	// Every key of a queue hashes to one slot; the live index and the parties to theirs.
	s := a.store
	id := newTicketID("duel", "X")
	for _, k := range []string{s.tkey(id), s.qkey("duel"), s.seqKey("duel"), s.logKey("duel"), s.leaseKey("duel"), s.fenceKey("duel")} {
		if cluster.Slot(k) != cluster.Slot(s.qkey("duel")) {
			t.Fatalf("%s is in slot %d, the duel queue in %d", k, cluster.Slot(k), cluster.Slot(s.qkey("duel")))
		}
	}
	if cluster.Slot(s.lkey("p1")) != cluster.Slot(s.nkey()) {
		t.Fatal("the live index spans slots")
	}
	owners := map[string]bool{}
	for _, q := range []string{"duel", "squad"} {
		o, err := rc.Owner(cluster.Slot(s.qkey(q)))
		if err != nil {
			t.Fatal(err)
		}
		owners[o.Addr] = true
	}
	t.Logf("the two queues live on %d masters", len(owners))

	ctx := context.Background()
	const n = 40
	ids := make([]string, n)
	for i := range n {
		in := a
		if i%2 == 1 {
			in = b
		}
		tk, err := in.mm.Submit(ctx, Member{ID: fmt.Sprintf("c%02d", i)}, Request{Queue: "duel", Properties: map[string]any{"skill": 1500.0}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = tk.ID
	}
	// One live ticket per player across queues (slots) and instances.
	if _, err := a.mm.Submit(ctx, Member{ID: "dup"}, Request{Queue: "squad"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.mm.Submit(ctx, Member{ID: "dup"}, Request{Queue: "duel"}); !errors.Is(err, ErrLiveTicket) {
		t.Fatalf("a second live ticket on the other instance, in another queue: %v, want ErrLiveTicket", err)
	}
	seated := map[string]string{}
	perMatch := map[string]int{}
	for i, id := range ids {
		other := b
		if i%2 == 1 {
			other = a
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		tk, err := other.mm.Wait(wctx, id, fmt.Sprintf("c%02d", i), Searching)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if tk.Status != Matched {
			t.Fatalf("ticket %d: %s", i, tk.Status)
		}
		seated[tk.Owner] = tk.Seats[0].MatchID
		perMatch[tk.Seats[0].MatchID]++
	}
	for m, k := range perMatch {
		if k != 2 {
			t.Fatalf("match %s has %d players", m, k)
		}
	}

	// A party over the cluster: made on a, joined and queued on b.
	p, err := a.mm.Parties().Create(ctx, Member{ID: "lead"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.mm.Parties().Join(ctx, p.Code, Member{ID: "mate"}); err != nil {
		t.Fatal(err)
	}
	pt, err := b.mm.Submit(ctx, Member{ID: "lead"}, Request{Queue: "squad"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s1"} { // with dup's ticket, four players
		if _, err := a.mm.Submit(ctx, Member{ID: id}, Request{Queue: "squad"}); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	got, err := a.mm.Wait(wctx, pt.ID, "mate", Searching)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := got.SeatOf("lead")
	ms, _ := got.SeatOf("mate")
	if got.Status != Matched || ls.MatchID != ms.MatchID || ls.Team != ms.Team {
		t.Fatalf("the party's ticket: %s, seats %+v", got.Status, got.Seats)
	}

	// The duel matcher dies; the other instance takes the queue over.
	leader, other := a, b
	if b.mm.Leading("duel") {
		leader, other = b, a
	}
	leader.mm.crashed.Store(true)
	leader.mm.Close()
	x, err := other.mm.Submit(ctx, Member{ID: "late-1"}, Request{Queue: "duel"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.mm.Submit(ctx, Member{ID: "late-2"}, Request{Queue: "duel"}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel = context.WithTimeout(ctx, 6*time.Second)
	got, err = other.mm.Wait(wctx, x.ID, "late-1", Searching)
	cancel()
	if err != nil || got.Status != Matched {
		t.Fatalf("after the matcher died: %v %v", got, err)
	}
}
