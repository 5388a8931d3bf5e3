package matchmaking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// countGets counts the GETs of keys containing sub that a client sends.
type countGets struct {
	sub string
	mu  sync.Mutex
	n   int
}

func (c *countGets) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *countGets) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.see(cmd)
		return next(ctx, cmd)
	}
}

func (c *countGets) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.see(cmd)
		}
		return next(ctx, cmds)
	}
}

func (c *countGets) see(cmd redis.Cmder) {
	args := cmd.Args()
	if len(args) < 2 || !strings.EqualFold(cmd.Name(), "get") {
		return
	}
	if k, _ := args[1].(string); strings.Contains(k, c.sub) {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
}

func (c *countGets) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// A long-poll over the Redis store reads its ticket once: the changes it waits through (the
// claim, then the outcome) come with the feed, not from a read each (it read the ticket twice per
// change before: a pool of connections shared by every long-poll was the wait of issue 11).
func TestRedisLongPollReadsOnce(t *testing.T) {
	rs := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	in := startInstanceOn(t, rdb, "poll", Config{})
	waitFor(t, 5*time.Second, "the duel lease", func() bool { return in.mm.Leading("duel") })
	ctx := context.Background()
	a, err := in.mm.Submit(ctx, Member{ID: "poll-a"}, Request{Queue: "duel", Properties: map[string]any{"skill": 1500.0}})
	if err != nil {
		t.Fatal(err)
	}
	gets := &countGets{sub: a.ID}
	rdb.AddHook(gets)
	type answer struct {
		t   *Ticket
		err error
	}
	done := make(chan answer, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		tk, err := in.mm.Wait(wctx, a.ID, "poll-a", Searching)
		done <- answer{tk, err}
	}()
	waitFor(t, 5*time.Second, "the long-poll's read", func() bool { return gets.count() >= 1 })
	if _, err := in.mm.Submit(ctx, Member{ID: "poll-b"}, Request{Queue: "duel", Properties: map[string]any{"skill": 1500.0}}); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if got.err != nil {
		t.Fatal(got.err)
	}
	if got.t.Status != Matched || len(got.t.Seats) != 1 {
		t.Fatalf("long-poll answered %s with %d seats", got.t.Status, len(got.t.Seats))
	}
	if n := gets.count(); n != 1 {
		t.Errorf("the long-poll read its ticket %d times, want once", n)
	}

}

// countTrips counts a client's round trips (a pipeline or a transaction is one).
type countTrips struct {
	mu    sync.Mutex
	trips int
	names []string
}

func (c *countTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *countTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.add(cmd.Name())
		return next(ctx, cmd)
	}
}

func (c *countTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, cmd := range cmds {
			names[i] = cmd.Name()
		}
		c.add(strings.Join(names, "+"))
		return next(ctx, cmds)
	}
}

func (c *countTrips) add(name string) {
	c.mu.Lock()
	c.trips++
	c.names = append(c.names, name)
	c.mu.Unlock()
}

func (c *countTrips) reset() ([]string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	names, n := c.names, c.trips
	c.names, c.trips = nil, 0
	return names, n
}

// A change of a group's tickets costs a fixed number of round trips whatever the group's size:
// the read, the compare-and-set write, and one script for the live keys of those that ended
// (it was WATCH, a lease read, the read, MULTI/EXEC, then one script per ended ticket).
// Concurrent claims of one ticket still let exactly one win (the compare and set).
func TestRedisChangeRoundTrips(t *testing.T) {
	rs := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	s, err := NewRedisStore(rdb, "trips:mm:", 1000, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	f, ok, err := s.Lease(ctx, "arena", "trips", 5*time.Second)
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	now := time.Now()
	// A new ticket is one round trip on a standalone Redis (live keys and queue entry at once).
	if err := addLiveScript.Load(ctx, rdb).Err(); err != nil {
		t.Fatal(err)
	}
	adds := &countTrips{}
	rdb.AddHook(adds)
	var ids []string
	for i := range 6 {
		tk := &Ticket{ID: newTicketID("arena", fmt.Sprintf("T%02d", i)), Queue: "arena", Owner: fmt.Sprintf("rt-%d", i),
			Members: []Member{{ID: fmt.Sprintf("rt-%d", i)}}, Created: now, Expires: now.Add(time.Minute), Status: Searching}
		if err := s.Add(ctx, tk); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tk.ID)
	}
	if names, n := adds.reset(); n != 6 {
		t.Errorf("6 new tickets: %d round trips %v, want 6", n, names)
	}
	// Warm: the scripts cached by Redis and a connection of the work pool open (a first use
	// costs a NOSCRIPT answer and the connection's handshake).
	for _, sc := range []*redis.Script{writeScript, liveReleaseAllScript} {
		if err := sc.Load(ctx, rdb).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.work.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	trips := &countTrips{}
	s.work.AddHook(trips)
	if err := s.Claim(ctx, f, ids); err != nil {
		t.Fatal(err)
	}
	if names, n := trips.reset(); n != 2 {
		t.Errorf("claiming 6 tickets: %d round trips %v, want 2", n, names)
	}
	outs := make([]Outcome, len(ids))
	for i := range outs {
		outs[i] = Outcome{Status: Matched, At: now}
	}
	done, err := s.FinishAll(ctx, f, ids, outs)
	if err != nil || len(done) != len(ids) {
		t.Fatalf("finish: %d %v", len(done), err)
	}
	if names, n := trips.reset(); n != 3 {
		t.Errorf("finishing 6 tickets: %d round trips %v, want 3", n, names)
	}
	for i := range ids {
		if id, live, err := s.Live(ctx, fmt.Sprintf("rt-%d", i)); err != nil || live {
			t.Fatalf("player %d still has live ticket %q (%v)", i, id, err)
		}
		if n, _ := rdb.Exists(ctx, s.lkey(fmt.Sprintf("rt-%d", i))).Result(); n != 0 {
			t.Fatalf("player %d's live key was not given back", i)
		}
	}

	// Ten claims of one ticket at once: one wins, the others are refused as claimed.
	x := &Ticket{ID: newTicketID("arena", "RACE"), Queue: "arena", Owner: "racer", Members: []Member{{ID: "racer"}},
		Created: now, Expires: now.Add(time.Minute), Status: Searching}
	if err := s.Add(ctx, x); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- s.Claim(ctx, f, []string{x.ID})
		}()
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, errClaimed):
			t.Fatalf("a racing claim: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d claims of one ticket won", won)
	}
	got, err := s.Get(ctx, x.ID)
	if err != nil || !got.Placing || got.Version != 1 {
		t.Fatalf("after the race: %+v %v", got, err)
	}
}

// A change the feed did not carry (its subscription was cut meanwhile) is answered when the
// long-poll's wait ends: the ticket is read again then.
func TestRedisLongPollRereadsAtTheEnd(t *testing.T) {
	rs := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	in := startInstanceOn(t, rdb, "reread", Config{})
	ctx := context.Background()
	a, err := in.mm.Submit(ctx, Member{ID: "rr-a"}, Request{Queue: "arena", Properties: map[string]any{"skill": 1500.0}})
	if err != nil {
		t.Fatal(err)
	}
	changes, stop := in.store.Follow(a.ID) // to see that the feed did not carry the change
	defer stop()
	gets := &countGets{sub: a.ID}
	rdb.AddHook(gets)
	done := make(chan *Ticket, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		tk, err := in.mm.Wait(wctx, a.ID, "rr-a", Searching)
		if err != nil {
			t.Error(err)
		}
		done <- tk
	}()
	// Written behind the feed's back (stored, not published), after the long-poll's read.
	waitFor(t, 5*time.Second, "the long-poll's read", func() bool { return gets.count() >= 1 })
	cur, err := in.store.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.Status, cur.Version, cur.Ended = Cancelled, cur.Version+1, time.Now()
	body, _ := json.Marshal(cur)
	if err := rdb.Set(ctx, in.store.tkey(a.ID), body, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if got == nil || got.Status != Cancelled {
		t.Fatalf("the long-poll answered %+v, want the stored cancelled ticket", got)
	}
	select {
	case c := <-changes: // (the ticket's creation may come late: it was published before Follow)
		if c.Status != Searching {
			t.Fatalf("the feed carried %s: the test did not bypass it", c.Status)
		}
	default:
	}
}
