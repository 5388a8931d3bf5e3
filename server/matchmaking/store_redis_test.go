package matchmaking

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

type instance struct {
	srv   *server.Server
	mm    *Matchmaker
	store *RedisStore
}

// startInstance is one tickrelay instance with a matchmaker over the shared Redis at addr.
func startInstance(t *testing.T, addr, name string, cfg Config) *instance {
	t.Helper()
	return startInstanceOn(t, redis.NewClient(&redis.Options{Addr: addr}), name, cfg)
}

// startInstanceOn is startInstance over rdb (a standalone or cluster client it closes).
func startInstanceOn(t *testing.T, rdb redis.UniversalClient, name string, cfg Config) *instance {
	t.Helper()
	srv, err := server.New(server.Config{Secret: testSecret, NodeID: name, Log: slog.New(slog.DiscardHandler), ShutdownGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	store, err := NewRedisStore(rdb, "test:mm:", 100000, time.Minute, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mm, err := Attach(srv, cfg, AttachOptions{Log: slog.New(slog.DiscardHandler), Store: store, Owner: name})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve(ln)
	in := &instance{srv: srv, mm: mm, store: store}
	t.Cleanup(func() {
		in.mm.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = store.Close()
		_ = rdb.Close()
	})
	return in
}

// waitFor waits (bounded) for cond, re-checking whenever a ticket changes in the store.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond) // a bounded re-check, not a synchronisation
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}

// Two instances share the duel queue in Redis: exactly one runs its matcher (the lease), tickets
// opened on either are matched once each (no player in two matches, no extra match), and when
// the matcher's instance dies, the other takes the queue over within the lease TTL.
func TestRedisTwoInstances(t *testing.T) {
	rs := redistest.Start(t)
	cfg := Config{LeaseTTL: Duration(1500 * time.Millisecond)}
	a := startInstance(t, rs.Addr, "inst-a", cfg)
	b := startInstance(t, rs.Addr, "inst-b", cfg)
	waitFor(t, 5*time.Second, "a duel matcher", func() bool { return a.mm.Leading("duel") || b.mm.Leading("duel") })
	if a.mm.Leading("duel") && b.mm.Leading("duel") {
		t.Fatal("both instances hold the duel lease")
	}

	ctx := context.Background()
	const n = 120
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := a
			if i%2 == 1 {
				in = b
			}
			tk, err := in.mm.Submit(ctx, Member{ID: fmt.Sprintf("p%03d", i)}, Request{Queue: "duel", Properties: map[string]any{"skill": 1500.0, "region": "eu"}})
			if err != nil {
				errs <- err
				return
			}
			ids[i] = tk.ID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every ticket is read back on the instance it was NOT opened on (the store is shared).
	matches := map[string][]string{}
	seated := map[string]string{}
	for i, id := range ids {
		other := b
		if i%2 == 1 {
			other = a
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		tk, err := other.mm.Wait(wctx, id, fmt.Sprintf("p%03d", i), Searching)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if tk.Status != Matched || len(tk.Seats) != 1 {
			t.Fatalf("ticket %d: %s with %d seats (placing %v by %q, attempts %d; leaders a %v b %v)", i, tk.Status, len(tk.Seats), tk.Placing, tk.ClaimedBy, tk.Attempts, a.mm.Leading("duel"), b.mm.Leading("duel"))
		}
		m := tk.Seats[0].MatchID
		if prev, dup := seated[tk.Owner]; dup {
			t.Fatalf("%s in two matches: %s and %s", tk.Owner, prev, m)
		}
		seated[tk.Owner] = m
		matches[m] = append(matches[m], tk.Owner)
	}
	for m, ps := range matches {
		if len(ps) != 2 {
			t.Fatalf("match %s has %v", m, ps)
		}
	}
	if got := a.srv.Registry().Len() + b.srv.Registry().Len(); got != n/2 {
		t.Fatalf("%d matches created for %d pairs: a ticket was placed twice", got, n/2)
	}

	// The matcher's instance dies (no lease release): the other takes over within the TTL.
	leader, other := a, b
	if b.mm.Leading("duel") {
		leader, other = b, a
	}
	// Its phase histograms say where the time went: every ticket was seen and queued, every
	// match placed and finished (a ticket read as another's partner before its own arrival was
	// told is not fresh: most, not all, are seen and queued).
	for _, ph := range []struct {
		name string
		min  uint64
	}{{"stored", n / 2}, {"seen", n / 2}, {"queued", n / 2}, {"claim", 1}, {"slot", n / 2}, {"place", n / 2}, {"finish", n / 2}} {
		if got := phaseCount(t, leader.mm.metrics, "duel", ph.name); got < ph.min {
			t.Errorf("phase %s: %d observations, want at least %d", ph.name, got, ph.min)
		}
	}
	leader.mm.crashed.Store(true)
	died := time.Now()
	leader.mm.Close()
	x, err := other.mm.Submit(ctx, Member{ID: "late-1"}, Request{Queue: "duel", Properties: map[string]any{"skill": 1500.0}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.mm.Submit(ctx, Member{ID: "late-2"}, Request{Queue: "duel", Properties: map[string]any{"skill": 1500.0}}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	got, err := other.mm.Wait(wctx, x.ID, "late-1", Searching)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Matched {
		t.Fatalf("after the matcher died: %s", got.Status)
	}
	if took := time.Since(died); took > 3*cfg.LeaseTTL.D() {
		t.Errorf("the queue was taken over after %v (lease TTL %v)", took, cfg.LeaseTTL.D())
	}
	if !other.mm.Leading("duel") {
		t.Error("the survivor does not hold the lease")
	}
}

// A matcher whose lease was taken over cannot finish what it claimed (fencing), and the new
// holder gives those tickets back to the search.
func TestRedisFencing(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	s, err := NewRedisStore(rdb, "fence:", 100, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	t1 := newTicketID("duel", "ONE")
	tk := &Ticket{ID: t1, Queue: "duel", Owner: "p1", Members: []Member{{ID: "p1"}}, Skill: 1500, Created: now, Expires: now.Add(time.Minute), Status: Searching}
	if err := s.Add(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, &Ticket{ID: newTicketID("duel", "TWO"), Queue: "duel", Members: []Member{{ID: "p1"}}, Created: now, Expires: now.Add(time.Minute)}); err != ErrLiveTicket {
		t.Fatalf("second live ticket: %v", err)
	}
	fa, ok, err := s.Lease(ctx, "duel", "a", 300*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("lease a: %v %v", ok, err)
	}
	if _, ok, _ := s.Lease(ctx, "duel", "b", 300*time.Millisecond); ok {
		t.Fatal("b got a held lease")
	}
	if err := s.Claim(ctx, fa, []string{t1}); err != nil {
		t.Fatal(err)
	}
	// a stalls past its TTL; b takes over with a newer token.
	waitFor(t, 3*time.Second, "the lease to lapse", func() bool {
		n, _ := rdb.Exists(ctx, "fence:{q:duel}:lease").Result()
		return n == 0
	})
	fb, ok, err := s.Lease(ctx, "duel", "b", time.Second)
	if err != nil || !ok || fb.Token == fa.Token {
		t.Fatalf("lease b: %v %v %q", ok, err, fb.Token)
	}
	if _, err := s.Finish(ctx, fa, t1, Outcome{Status: Matched, At: time.Now()}); err != ErrFenced {
		t.Fatalf("a finishing after losing the lease: %v, want ErrFenced", err)
	}
	if n, err := s.RequeueStale(ctx, fb, time.Hour); err != nil || n != 1 {
		t.Fatalf("requeue a's claim: %d %v", n, err)
	}
	ts, _ := s.Searching(ctx, "duel")
	if len(ts) != 1 || ts[0].ID != t1 {
		t.Fatalf("searching after the takeover: %v", ts)
	}
	if err := s.Claim(ctx, fb, []string{t1}); err != nil {
		t.Fatal(err)
	}
	ft, err := s.Finish(ctx, fb, t1, Outcome{Status: Matched, At: time.Now()})
	if err != nil || ft.Status != Matched {
		t.Fatalf("b finishes: %v %v", ft, err)
	}
	if _, live, _ := s.Live(ctx, "p1"); live {
		t.Fatal("p1 still has a live ticket after the match")
	}
	if s.Len() != 0 {
		t.Fatalf("live count %d", s.Len())
	}
}

// ClaimGroups claims, in one transaction, every group whose tickets are all searching and
// unclaimed, refuses the others whole, and writes nothing for them.
func TestRedisClaimGroups(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	s, err := NewRedisStore(rdb, "groups:", 100, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	id := func(i int) string { return newTicketID("duel", fmt.Sprintf("G%d", i)) }
	for i := range 6 {
		p := fmt.Sprintf("g%d", i)
		if err := s.Add(ctx, &Ticket{ID: id(i), Queue: "duel", Owner: p, Members: []Member{{ID: p}}, Created: now, Expires: now.Add(time.Minute), Status: Searching}); err != nil {
			t.Fatal(err)
		}
	}
	f, ok, err := s.Lease(ctx, "duel", "a", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := s.Cancel(ctx, id(3), "g3"); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim(ctx, f, []string{id(5)}); err != nil {
		t.Fatal(err)
	}
	_, cursor, _ := s.Snapshot(ctx, "duel")
	errs, err := s.ClaimGroups(ctx, f, [][]string{{id(0), id(1)}, {id(2), id(3)}, {id(4), id(5)}})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[1] != errClaimed || errs[2] != errClaimed {
		t.Fatalf("ClaimGroups: %v, want [nil errClaimed errClaimed]", errs)
	}
	for i, want := range []bool{true, true, false, false, false, true} {
		tk, _ := s.Get(ctx, id(i))
		if tk.Placing != want {
			t.Errorf("ticket %d placing %v, want %v", i, tk.Placing, want)
		}
	}
	changed, _, _, err := s.Since(ctx, "duel", cursor)
	if err != nil || len(changed) != 2 {
		t.Fatalf("the log after ClaimGroups has %d changes (%v), want the 2 claimed", len(changed), err)
	}
	// Ended tickets come back among the gone ones (not decoded: the runner only forgets them).
	_, cursor, _ = s.Snapshot(ctx, "duel")
	if _, err := s.FinishAll(ctx, f, []string{id(0), id(1)}, []Outcome{{Status: Matched, At: time.Now()}, {Status: Matched, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	changed, gone, _, err := s.Since(ctx, "duel", cursor)
	if err != nil || len(changed) != 0 || len(gone) != 2 {
		t.Fatalf("the log after finishing 2: changed %d, gone %v (%v), want 0 and the 2", len(changed), gone, err)
	}
	// A lost lease claims nothing.
	if _, err := s.ClaimGroups(ctx, Fence{Queue: "duel", Token: "someone else"}, [][]string{{id(2)}, {id(4)}}); err != ErrFenced {
		t.Fatalf("ClaimGroups with a stale fence: %v, want ErrFenced", err)
	}
}

// phaseCount is the number of observations of the queue's phase histogram.
func phaseCount(t *testing.T, m *Metrics, queue, phase string) uint64 {
	t.Helper()
	var d dto.Metric
	if err := m.phase.WithLabelValues(queue, phase).(prometheus.Histogram).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram().GetSampleCount()
}
