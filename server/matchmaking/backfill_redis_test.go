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

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/cluster"
	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// busInstance is a tickrelay instance of a real cluster: the Redis bus (node registry, match
// directory, relays, seat reservations over the bus) and a matchmaker over the shared store.
type busInstance struct {
	instance
	base, ws string
	stopped  bool
}

func startBusInstance(t *testing.T, addr, name string, cfg Config) *busInstance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := &busInstance{base: "http://" + ln.Addr().String(), ws: "ws://" + ln.Addr().String() + "/ws"}
	srv, err := server.New(server.Config{Secret: testSecret, NodeID: name, PublicURL: in.base, Log: slog.New(slog.DiscardHandler), ShutdownGrace: time.Second,
		Bus: cluster.NewRedisBus(cluster.RedisBusConfig{Redis: cluster.RedisConfig{Addr: addr}, Bus: cluster.BusConfig{Heartbeat: 200 * time.Millisecond}})})
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	store, err := NewRedisStore(rdb, "test:mm:", 100000, time.Minute, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mm, err := Attach(srv, cfg, AttachOptions{Log: slog.New(slog.DiscardHandler), Store: store, Owner: name})
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve(ln)
	in.instance = instance{srv: srv, mm: mm, store: store}
	t.Cleanup(func() {
		in.stop(false)
		_ = store.Close()
		_ = rdb.Close()
	})
	return in
}

// stop closes the matchmaker (as a crash would: nothing withdrawn, leases kept) and the server.
func (in *busInstance) stop(crash bool) {
	if in.stopped {
		return
	}
	in.stopped = true
	in.mm.crashed.Store(crash)
	in.mm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = in.srv.Shutdown(ctx)
}

// backfillCfg is a queue of pairs in arena matches of 4 seats that backfill.
func backfillCfg() Config {
	return Config{LeaseTTL: Duration(1500 * time.Millisecond), BackfillEvery: Duration(100 * time.Millisecond),
		Queues: []Queue{{Name: "pair", Game: "arena", Players: 2, Seats: 4, Backfill: true}}}
}

// openMatch creates on in a running match of the queue as the matchmaker would have placed it
// there: labelled with the queue and the players' mean skill, and marked on the board.
func openMatch(t *testing.T, in *busInstance, seats int, region string) *game.Match {
	t.Helper()
	m := lookAlike(t, in, seats, region)
	rec := OpenRecord{ID: m.ID(), Node: in.srv.NodeID(), Game: "arena", Region: region, Skill: 1500, Free: seats, Max: seats}
	if err := in.store.MarkMade(context.Background(), "pair", rec, backfillCfg().LeaseTTL.D()); err != nil {
		t.Fatal(err)
	}
	return m
}

// lookAlike is a match with the label of the queue's matches that the matchmaker did not make
// (as any player can create with POST /v1/matches).
func lookAlike(t *testing.T, in *busInstance, seats int, region string) *game.Match {
	t.Helper()
	label := map[string]string{labelQueue: "pair", labelSkill: "1500"}
	if region != "" {
		label[labelRegion] = region
	}
	m, err := in.srv.CreateMatch(context.Background(), game.CreateOptions{Game: "arena", Private: true, MaxPlayers: seats, Label: label})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// onBoard is the board's record of match id (as any matcher reads it), if any.
func onBoard(t *testing.T, s *RedisStore, id string) (OpenRecord, bool) {
	t.Helper()
	recs, _, _, err := s.ListOpen(context.Background(), "pair", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.ID == id {
			return r, true
		}
	}
	return OpenRecord{}, false
}

// leaderFirst starts the instance that will hold the queue's lease, then the other.
func leaderFirst(t *testing.T, addr string) (lead, owner *busInstance) {
	t.Helper()
	lead = startBusInstance(t, addr, "inst-b", backfillCfg())
	waitFor(t, 5*time.Second, "b to lead the pair queue", func() bool { return lead.mm.Leading("pair") })
	owner = startBusInstance(t, addr, "inst-a", backfillCfg())
	return lead, owner
}

func submit(t *testing.T, in *busInstance, player string) *Ticket {
	t.Helper()
	tk, err := in.mm.Submit(context.Background(), Member{ID: player}, Request{Queue: "pair", Properties: map[string]any{"skill": 1500.0}})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// waitOutcome waits (bounded) for ticket id of player to leave "searching", as in reads it.
func waitOutcome(t *testing.T, in *busInstance, id, player string, within time.Duration) *Ticket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tk, err := in.mm.Wait(ctx, id, player, Searching)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// A match on instance a with free seats is backfilled by tickets opened on instance b, whose
// matcher holds the queue's lease: the seats are reserved on a (the reservation names a's
// address and the player JOINs there), no new match is made, and once the match is full it is
// no longer offered (a further ticket searches on), nor once it ended.
func TestRedisBackfillAcrossInstances(t *testing.T) {
	rs := redistest.Start(t)
	b, a := leaderFirst(t, rs.Addr)
	fake := lookAlike(t, a, 10, "")
	m := openMatch(t, a, 4, "")
	waitFor(t, 5*time.Second, "a's match on the board", func() bool {
		r, ok := onBoard(t, a.store, m.ID())
		return ok && r.Free == 4 && r.Node == "inst-a" && r.Epoch == m.Info().Epoch
	})

	var seats []Seat
	for i := range 4 {
		pl := fmt.Sprintf("bf%d", i)
		tk := submit(t, b, pl)
		got := waitOutcome(t, b, tk.ID, pl, 5*time.Second)
		if got.Status != Matched || len(got.Seats) != 1 || got.Seats[0].MatchID != m.ID() {
			t.Fatalf("ticket %d: %s %+v, want a backfill into a's %s", i, got.Status, got.Seats, m.ID())
		}
		seats = append(seats, got.Seats[0])
	}
	if n := b.srv.Registry().Len(); n != 0 {
		t.Fatalf("b made %d matches: the tickets should have gone into a's running match", n)
	}
	if info := m.Info(); info.Reserved+info.Players != 4 {
		t.Fatalf("a's match holds %d reservations and %d players, want 4 seats taken", info.Reserved, info.Players)
	}
	// The reservation is good on the owner: the player JOINs a's match at a's address.
	if seats[0].Address == "" {
		t.Fatal("the backfill's reservation names no address")
	}
	tok, err := a.srv.IssueSession(seats[0].Player, "backfilled")
	if err != nil {
		t.Fatal(err)
	}
	p := (&player{ts: &testServer{t: t, srv: a.srv, base: a.base, ws: a.ws}, token: tok, id: seats[0].Player}).connect()
	if j := p.join(m.ID(), seats[0].Ticket); j.Op != protocol.OpJoined {
		t.Fatalf("JOIN with the backfill's reservation: %+v", j)
	}

	// Full: no longer on the board, and a fifth ticket is not backfilled (it searches on).
	waitFor(t, 5*time.Second, "the full match off the board", func() bool { _, ok := onBoard(t, b.store, m.ID()); return !ok })
	fifth := submit(t, b, "bf-fifth")
	if got := waitOutcomeOrNil(t, b, fifth.ID, "bf-fifth", 500*time.Millisecond); got != nil {
		t.Fatalf("a ticket was %s past the full match (into %+v): nothing else may take it", got.Status, got.Seats)
	}
	if _, err := b.mm.Cancel(context.Background(), fifth.ID, "bf-fifth"); err != nil {
		t.Fatal(err)
	}

	// A second match on a; ended: off the board, and a lone ticket is not sent into it.
	m2 := openMatch(t, a, 4, "")
	waitFor(t, 5*time.Second, "the second match on the board", func() bool { _, ok := onBoard(t, b.store, m2.ID()); return ok })
	m2.Stop(protocol.EndStopped)
	<-m2.Done()
	waitFor(t, 5*time.Second, "the ended match off the board", func() bool { _, ok := onBoard(t, b.store, m2.ID()); return !ok })
	late := submit(t, b, "bf-late")
	if got := waitOutcomeOrNil(t, b, late.ID, "bf-late", 500*time.Millisecond); got != nil {
		t.Fatalf("a ticket was %s into an ended match (%+v)", got.Status, got.Seats)
	}
	// The look-alike a player could have made was never offered: not on the board, no seat sold.
	if _, ok := onBoard(t, b.store, fake.ID()); ok || fake.Info().Reserved != 0 {
		t.Fatalf("a match the matchmaker did not make was offered (%d seats reserved in it)", fake.Info().Reserved)
	}
	if n := collectCounter(t, b.mm.metrics.backfills.WithLabelValues("pair")); n != 4 {
		t.Fatalf("backfills_total %v, want 4", n)
	}
}

// waitOutcomeOrNil is the ticket if it left "searching" within d, else nil (still searching).
func waitOutcomeOrNil(t *testing.T, in *busInstance, id, player string, d time.Duration) *Ticket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tk, err := in.mm.Wait(ctx, id, player, Searching)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status == Searching {
		return nil
	}
	return tk
}

// A seat race: a's match has 3 free seats; direct reservations on a (the HTTP join's path) and
// tickets on b (backfill by b's matcher) all want them at once. The owner's match decides every
// seat: never more than 3 are sold, each matched ticket's seat is one of them, and the tickets
// that lost the race search on (a refused reservation puts them back) or pair among themselves
// in a new match, never in the full one.
func TestRedisBackfillSeatRace(t *testing.T) {
	rs := redistest.Start(t)
	b, a := leaderFirst(t, rs.Addr)
	for round := range 3 {
		m := openMatch(t, a, 3, "")
		waitFor(t, 5*time.Second, "the match on the board", func() bool { r, ok := onBoard(t, b.store, m.ID()); return ok && r.Free == 3 })
		h, err := a.srv.Locate(context.Background(), m.ID())
		if err != nil {
			t.Fatal(err)
		}
		const direct, tickets = 2, 4
		var wg sync.WaitGroup
		var mu sync.Mutex
		directOK := 0
		ids := make([]string, tickets)
		for i := range direct {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := a.srv.ReserveSeat(context.Background(), h, fmt.Sprintf("r%d-direct%d", round, i), "", 0); err == nil {
					mu.Lock()
					directOK++
					mu.Unlock()
				}
			}()
		}
		for i := range tickets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids[i] = submit(t, b, fmt.Sprintf("r%d-t%d", round, i)).ID
			}()
		}
		wg.Wait()
		backfilled := 0
		for i, id := range ids {
			got := waitOutcomeOrNil(t, b, id, fmt.Sprintf("r%d-t%d", round, i), 3*time.Second)
			if got != nil && got.Status == Matched {
				if len(got.Seats) != 1 || got.Seats[0].MatchID == "" || got.Seats[0].Ticket == "" {
					t.Fatalf("round %d: ticket %d matched without a reserved seat: %+v", round, i, got.Seats)
				}
				if got.Seats[0].MatchID == m.ID() {
					backfilled++
				}
			}
			if got == nil {
				_, _ = b.mm.Cancel(context.Background(), id, fmt.Sprintf("r%d-t%d", round, i))
			}
		}
		info := m.Info()
		if sold := directOK + backfilled; sold > 3 || info.Reserved+info.Players > 3 {
			t.Fatalf("round %d: %d direct + %d backfilled seats sold, the match holds %d reserved + %d players of 3 seats", round, directOK, backfilled, info.Reserved, info.Players)
		}
		if directOK+backfilled != info.Reserved {
			t.Fatalf("round %d: %d direct + %d backfilled, but the match holds %d reservations", round, directOK, backfilled, info.Reserved)
		}
		t.Logf("round %d: %d direct, %d backfilled, %v refused so far", round, directOK, backfilled, collectCounter(t, b.mm.metrics.backfillRefused.WithLabelValues("pair")))
	}
}

// The owner dies: its open matches stop being offered within the lease TTL (their records
// expire; nobody withdrew them), and a ticket is not sent into them.
func TestRedisBackfillOwnerKilled(t *testing.T) {
	rs := redistest.Start(t)
	b, a := leaderFirst(t, rs.Addr)
	m := openMatch(t, a, 4, "")
	q, _ := b.mm.Queue("pair")
	offered := func() bool {
		for _, o := range b.mm.placer.Open(q, time.Now()) {
			if o.ID == m.ID() {
				return true
			}
		}
		return false
	}
	waitFor(t, 5*time.Second, "a's match offered to b's matcher", offered)
	a.stop(true)
	died := time.Now()
	if _, ok := onBoard(t, b.store, m.ID()); !ok {
		t.Fatal("the record went with the crash: it should only expire")
	}
	waitFor(t, 2*backfillCfg().LeaseTTL.D()+time.Second, "the dead owner's match no longer offered", func() bool { return !offered() })
	if took := time.Since(died); took > backfillCfg().LeaseTTL.D()+time.Second { // expiry plus a loaded machine's slack
		t.Errorf("offered %v after its owner died (lease TTL %v)", took, backfillCfg().LeaseTTL.D())
	}
	tk := submit(t, b, "after-death")
	if got := waitOutcomeOrNil(t, b, tk.ID, "after-death", 500*time.Millisecond); got != nil {
		t.Fatalf("a ticket was %s into a dead owner's match (%+v)", got.Status, got.Seats)
	}
}

// collectCounter reads a counter's value.
func collectCounter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// The matchmaker's own placement marks its match: a pair placed by b's matcher (on whichever
// instance is the least loaded) takes the next two tickets, opened on a, as a backfill.
func TestRedisBackfillPlacedMatch(t *testing.T) {
	rs := redistest.Start(t)
	b, a := leaderFirst(t, rs.Addr)
	first := []*Ticket{submit(t, b, "pm0"), submit(t, b, "pm1")}
	got := waitOutcome(t, a, first[0].ID, "pm0", 5*time.Second)
	if got.Status != Matched {
		t.Fatalf("first pair: %s", got.Status)
	}
	m := got.Seats[0].MatchID
	waitFor(t, 5*time.Second, "the placed match on the board", func() bool { r, ok := onBoard(t, a.store, m); return ok && r.Free == 2 })
	for i := 2; i < 4; i++ {
		pl := fmt.Sprintf("pm%d", i)
		tk := submit(t, a, pl)
		if got := waitOutcome(t, a, tk.ID, pl, 5*time.Second); got.Status != Matched || got.Seats[0].MatchID != m {
			t.Fatalf("ticket %d: %s %+v, want a backfill into %s", i, got.Status, got.Seats, m)
		}
	}
	if n := a.srv.Registry().Len() + b.srv.Registry().Len(); n != 1 {
		t.Fatalf("%d matches for four tickets of a queue of pairs with 4 seats", n)
	}
}
