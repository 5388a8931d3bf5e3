package cluster

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/checkpoint"
	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// failoverTTL is the node and lease lifetime of the failover tests (the defaults are 3 s).
const failoverTTL = time.Second

// failoverNet is a cluster (memory, or over a real redis-server) whose instances checkpoint
// their matches into one store and can "die" (their directory calls fail and their broker is
// cut, as for a killed process or one cut off from Redis) and, in memory, come back.
type failoverNet struct {
	t       *testing.T
	dir     Directory // the test's own view of the directory
	store   checkpoint.Store
	sub     substrate
	brokers map[string]Broker
	dirs    map[string]*mortalDir
	mu      sync.Mutex
}

func newFailoverNet(t *testing.T) *failoverNet {
	net := NewMemoryNetwork()
	dir := NewMemoryDirectory(DirectoryConfig{NodeTTL: failoverTTL, LeaseTTL: failoverTTL})
	f := &failoverNet{t: t, dir: dir, store: checkpoint.NewMemoryStore(), brokers: map[string]Broker{}, dirs: map[string]*mortalDir{}}
	f.sub = substrate{
		broker:    func(node string) Broker { return net.Broker(node, nil) },
		directory: func(string) Directory { return dir },
	}
	return f
}

// newFailoverRedis is a failoverNet over a real redis-server: each instance has its own broker
// and directory clients, the checkpoints are in Redis.
func newFailoverRedis(t *testing.T) *failoverNet {
	rd := redistest.Start(t)
	rc := RedisConfig{Addr: rd.Addr, Logger: slog.New(slog.DiscardHandler)}
	names := testNames()
	dc := DirectoryConfig{Names: names, NodeTTL: failoverTTL, LeaseTTL: failoverTTL}
	dir, err := NewRedisDirectory(rc, dc)
	must(t, err)
	t.Cleanup(func() { _ = dir.Close() })
	rdb, err := NewRedisClient(rc)
	must(t, err)
	t.Cleanup(func() { _ = rdb.Close() })
	f := &failoverNet{t: t, dir: dir, store: checkpoint.NewRedisStore(rdb, names.Prefix+":", time.Minute),
		brokers: map[string]Broker{}, dirs: map[string]*mortalDir{}}
	f.sub = substrate{
		broker: func(node string) Broker {
			c := rc
			c.Name = node
			b, err := NewRedisBroker(c)
			must(t, err)
			return b
		},
		directory: func(string) Directory {
			d, err := NewRedisDirectory(rc, dc)
			must(t, err)
			return d
		},
		names:  names,
		ownDir: true,
	}
	return f
}

func (f *failoverNet) substrate() substrate {
	return substrate{
		broker: func(node string) Broker {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.brokers[node] = f.sub.broker(node)
			return f.brokers[node]
		},
		directory: func(node string) Directory {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.dirs[node] = &mortalDir{Directory: f.sub.directory(node)}
			return f.dirs[node]
		},
		names:  f.sub.names,
		ownDir: f.sub.ownDir,
	}
}

func (f *failoverNet) start(name string, mutate ...func(*BusConfig, *server.Config)) *instance {
	w := checkpoint.NewWriter(checkpoint.WriterConfig{Store: f.store, Log: slog.New(slog.DiscardHandler)})
	f.t.Cleanup(func() { _ = w.Close(context.Background()) })
	opts := append([]func(*BusConfig, *server.Config){func(bc *BusConfig, cfg *server.Config) {
		fastBus(bc)
		bc.LeaseTTL, bc.Checkpoints = failoverTTL, f.store
		cfg.Checkpoints, cfg.CheckpointEvery = w, 100*time.Millisecond
		cfg.GuestBurst = 1000 // every test client is a guest from 127.0.0.1
		if os.Getenv("FAILOVER_LOG") != "" {
			cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", name)
		}
	}}, mutate...)
	return startInstance(f.t, name, f.substrate(), opts...)
}

// kill makes node unreachable: no heartbeat, no lease refresh, nothing published or received
// (a Redis broker is closed: that instance cannot come back).
func (f *failoverNet) kill(node string) {
	f.dirs[node].dead.Store(true)
	switch b := f.brokers[node].(type) {
	case *MemoryBroker:
		b.Cut(errDead)
	default:
		_ = b.Close()
	}
}

// revive reconnects node (SIGCONT, or its network back); memory brokers only.
func (f *failoverNet) revive(node string) {
	f.dirs[node].dead.Store(false)
	f.brokers[node].(*MemoryBroker).Restore()
}

// waitCheckpoint waits until match id has a checkpoint of epoch at tick ≥ 1.
func (f *failoverNet) waitCheckpoint(id string, epoch uint32) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := f.store.Get(context.Background(), id)
		if err == nil && r.Epoch == epoch && r.Tick > 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("no checkpoint of %s in epoch %d: %+v %v", id, epoch, r, err)
		}
		time.Sleep(20 * time.Millisecond) // polling the store, not synchronising the test
	}
}

// settle waits until every instance may judge leases (healthy for LeaseTTL + 1 s).
// leaseExpired waits until the dead owner's lease on id is gone from the directory.
func (f *failoverNet) leaseExpired(id string) {
	f.t.Helper()
	waitFor(f.t, 10*time.Second, "the dead owner's lease expiring", func() bool {
		_, err := f.dir.Lookup(context.Background(), id)
		return isNotFound(err)
	})
}

func settle(t *testing.T, ins ...*instance) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, in := range ins {
		for !in.bus.settled() {
			if time.Now().After(deadline) {
				t.Fatalf("%s never settled", in.name)
			}
			time.Sleep(20 * time.Millisecond) // polling the bus's clock
		}
	}
}

// owners lists the instances among ins that run match id.
func owners(id string, ins ...*instance) []*instance {
	var out []*instance
	for _, in := range ins {
		if _, ok := in.srv.Registry().Get(id); ok {
			out = append(out, in)
		}
	}
	return out
}

// untilEpoch feeds c's frames into mi until a JOINED of epoch (a frame of the old epoch after
// it, or an END, fails the test).
func untilEpoch(c *client, mi *game.Mirror, epoch uint32) protocol.ServerMsg {
	c.t.Helper()
	return c.feedUntil(mi, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpJoined && m.Epoch == epoch })
}

// The owner dies: one of the two instances relaying the match claims it (exactly one owner,
// epoch 2), restores it from the checkpoint, and both relayed players get a JOINED of the new
// epoch (never END LOST) and then mirrors equal to the new owner's state; the pids and the
// acks of the inputs applied before the checkpoint carry over.
func TestFailoverRelayedPlayersFollowRestoredMatch(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testFailoverFollow(t, newFailoverNet(t)) })
	t.Run("redis", func(t *testing.T) { testFailoverFollow(t, newFailoverRedis(t)) })
}

func testFailoverFollow(t *testing.T, f *failoverNet) {
	a, b, c := f.start("a"), f.start("b"), f.start("c")
	waitNodes(t, 3, a, b, c)
	settle(t, a, b, c)
	cr := a.create(a.guest("ann"), map[string]any{"game": "arena"})
	id := cr.Match.ID
	ann := a.connect("ann")
	ann.join(id, "")
	bob, cid := b.connect("bob"), c.connect("cid")
	mb, mc := &game.Mirror{}, &game.Mirror{}
	jb := bob.join(id, "")
	if err := mb.ApplyJoined(&jb); err != nil {
		t.Fatal(err)
	}
	jc := cid.join(id, "")
	if err := mc.ApplyJoined(&jc); err != nil {
		t.Fatal(err)
	}
	bob.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 1, Payload: arena.EncodeInput(nil, 1, 0)})
	bob.feedUntil(mb, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta && m.Ack >= 1 })
	f.waitCheckpoint(id, 1)
	f.waitCheckpointAfter(id, jb.Tick+2) // taken after the input was applied

	died := time.Now()
	f.kill("a")
	jb2 := untilEpoch(bob, mb, 2)
	tookB := time.Since(died)
	jc2 := untilEpoch(cid, mc, 2)
	tookC := time.Since(died)
	t.Logf("relayed players followed the restored match after %v and %v", tookB.Round(time.Millisecond), tookC.Round(time.Millisecond))
	if tookB > 8*time.Second || tookC > 8*time.Second {
		t.Fatalf("followed after %v / %v, want well under the 10 s outcome budget", tookB, tookC)
	}
	if jb2.PID != jb.PID || jc2.PID != jc.PID {
		t.Fatalf("pids changed: bob %d→%d, cid %d→%d", jb.PID, jb2.PID, jc.PID, jc2.PID)
	}
	if jb2.Ack < 1 {
		t.Fatalf("bob's ack after the restore is %d: the input applied before the checkpoint was forgotten", jb2.Ack)
	}
	own := owners(id, b, c)
	if len(own) != 1 {
		t.Fatalf("%d instances run the match after the failover, want exactly 1", len(own))
	}
	e, err := f.dir.Lookup(context.Background(), id)
	if err != nil || e.Node != own[0].name || e.Epoch != 2 {
		t.Fatalf("directory: %+v %v, want %s in epoch 2", e, err, own[0].name)
	}
	bob.converge(mb, func() uint64 { return viewOf(t, own[0], id, jb.PID) })
	cid.converge(mc, func() uint64 { return viewOf(t, own[0], id, jc.PID) })
	// The match goes on: an input through the follower reaches the new owner.
	bob.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 2, Payload: arena.EncodeInput(nil, 0, 1)})
	bob.feedUntil(mb, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta && m.Ack >= 2 })
	restored := testutil.ToFloat64(b.bus.fo.m.claims.WithLabelValues(claimRestored)) +
		testutil.ToFloat64(c.bus.fo.m.claims.WithLabelValues(claimRestored))
	if restored != 1 {
		t.Fatalf("%v restores counted, want 1", restored)
	}
}

// waitCheckpointAfter waits until match id's stored checkpoint was taken after tick.
func (f *failoverNet) waitCheckpointAfter(id string, tick uint32) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := f.store.Get(context.Background(), id)
		if err == nil && r.Tick > tick {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("no checkpoint of %s after tick %d: %+v %v", id, tick, r, err)
		}
		time.Sleep(20 * time.Millisecond) // polling the store, not synchronising the test
	}
}

// Three instances claim the same dead owner's match at once: exactly one restores it (the
// directory's fence refuses the others, which find the winner), never two owners.
func TestFailoverClaimRaceExactlyOnce(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testClaimRace(t, newFailoverNet(t)) })
	t.Run("redis", func(t *testing.T) { testClaimRace(t, newFailoverRedis(t)) })
}

func testClaimRace(t *testing.T, f *failoverNet) {
	x, b, c, d := f.start("x"), f.start("b"), f.start("c"), f.start("d")
	waitNodes(t, 4, x, b, c, d)
	cr := x.create(x.guest("ann"), map[string]any{"game": "arena"})
	id := cr.Match.ID
	ann := x.connect("ann")
	ann.join(id, "")
	f.waitCheckpoint(id, 1)
	f.kill("x")
	settle(t, b, c, d)
	f.leaseExpired(id)
	racers := []*instance{b, c, d}
	errs := make([]error, len(racers))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, in := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = in.bus.claim(context.Background(), id)
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, ErrTaken), errors.Is(err, ErrFenced):
		default:
			t.Fatalf("%s: claim: %v", racers[i].name, err)
		}
	}
	own := owners(id, racers...)
	if won != 1 || len(own) != 1 {
		t.Fatalf("%d claims won, %d owners: want exactly 1 (errors %v)", won, len(own), errs)
	}
	e, err := f.dir.Lookup(context.Background(), id)
	if err != nil || e.Node != own[0].name || e.Epoch != 2 {
		t.Fatalf("directory: %+v %v, want %s in epoch 2", e, err, own[0].name)
	}
	// The losers route to the winner; a late claim of the old epoch is fenced.
	for _, in := range racers {
		h, err := in.bus.Locate(context.Background(), id)
		if err != nil || h.Owner().Node != own[0].name {
			t.Fatalf("%s locates %v (%v), want %s", in.name, h, err, own[0].name)
		}
	}
	if err := f.dir.Claim(context.Background(), MatchEntry{ID: id, Game: "arena", Node: "x", Epoch: 1}); !errors.Is(err, ErrTaken) && !errors.Is(err, ErrFenced) {
		t.Fatalf("the old owner's claim of epoch 1: %v, want refused", err)
	}
}

// closedWith waits for c's connection to close and returns its close code and reason.
func closedWith(t *testing.T, c *client) (uint16, string) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the connection did not close within 15 s")
	}
	var ce *gws.CloseError
	if !errors.As(c.closed, &ce) {
		t.Fatalf("closed without a close frame: %v", c.closed)
	}
	return ce.Code, string(ce.Reason)
}

// Draining an instance (its shutdown) hands each of its matches to another live instance:
// nothing ends; its local players are closed with 4003 MOVED naming the new owner, where they
// resume; players relayed through another instance follow (a JOINED of epoch 2) and their
// mirrors equal the new owner's state.
func TestDrainHandsMatchesOver(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testDrain(t, newFailoverNet(t)) })
	t.Run("redis", func(t *testing.T) { testDrain(t, newFailoverRedis(t)) })
}

func testDrain(t *testing.T, f *failoverNet) {
	a, b, c := f.start("a"), f.start("b"), f.start("c")
	waitNodes(t, 3, a, b, c)
	n := 4
	if v, err := strconv.Atoi(os.Getenv("DRAIN_MATCHES")); err == nil && v > 0 {
		n = v // a bigger drain for figures
	}
	type pair struct {
		id         string
		ann, bob   *client
		mb         *game.Mirror
		pidA, pidB uint32
		tokA       string
	}
	ps := make([]pair, n)
	for i := range ps {
		m, err := a.srv.Registry().Create(game.CreateOptions{Game: "arena"}) // here, not where placement says
		must(t, err)
		must(t, a.bus.Announce(context.Background(), m.ID()))
		p := pair{id: m.ID(), tokA: a.guest("ann"), bob: b.connect("bob"), mb: &game.Mirror{}}
		p.ann = a.dialToken(p.tokA)
		p.pidA = p.ann.join(p.id, "").PID
		// An input: ann's read loop parks (tick mode), the drain must wake it with its 4003.
		p.ann.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 1, Payload: []byte{0xc0}})
		j := p.bob.join(p.id, "")
		if err := p.mb.ApplyJoined(&j); err != nil {
			t.Fatal(err)
		}
		p.pidB = j.PID
		ps[i] = p
	}
	start := time.Now()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		a.stop()
	}()
	addrs := map[string]*instance{b.base: b, c.base: c}
	for _, p := range ps {
		code, reason := closedWith(t, p.ann)
		if code != uint16(protocol.CloseMoved) || addrs[reason] == nil {
			t.Fatalf("local player closed with %d %q, want 4003 and the new owner's URL", code, reason)
		}
		own := owners(p.id, b, c)
		if len(own) != 1 || own[0].base != reason {
			t.Fatalf("match %s runs on %d instances, the close named %s", p.id, len(own), reason)
		}
		untilEpoch(p.bob, p.mb, 2) // an END on the way fails here
		p.bob.converge(p.mb, func() uint64 { return viewOf(t, own[0], p.id, p.pidB) })
		e, err := f.dir.Lookup(context.Background(), p.id)
		if err != nil || e.Node != own[0].name || e.Epoch != 2 {
			t.Fatalf("directory: %+v %v", e, err)
		}
	}
	<-stopped
	took := time.Since(start)
	t.Logf("drain of %d matches: %v", n, took.Round(time.Millisecond))
	if moved := testutil.ToFloat64(a.bus.fo.m.handoffs.WithLabelValues(handoffMoved)); moved != float64(n) {
		t.Fatalf("%v hand-offs counted, want %d", moved, n)
	}
	if failed := testutil.ToFloat64(a.bus.fo.m.handoffs.WithLabelValues(handoffFailed)); failed != 0 {
		t.Fatalf("%v hand-offs failed", failed)
	}
	// The local player of the first match takes its seat back on the new owner (the URL of
	// the close) by JOINing the match again with its token: the same pid, in epoch 2.
	own := owners(ps[0].id, b, c)[0]
	again := own.dialToken(ps[0].tokA)
	j := again.join(ps[0].id, "")
	if j.Epoch != 2 || j.PID != ps[0].pidA {
		t.Fatalf("rejoin on the new owner: epoch %d pid %d, want epoch 2 and its seat %d", j.Epoch, j.PID, ps[0].pidA)
	}
}

// Split brain: the owner is cut off past its lease; another instance restores the match
// (epoch 2). When the owner comes back after not running (a SIGSTOP: the lease guard sees the
// gap), it sends no tick of its stale copy: its local player's next frames end with END 6
// MOVED, and the relayed player never sees an epoch-1 frame after following epoch 2.
func TestSplitBrainStaleOwnerStops(t *testing.T) {
	f := newFailoverNet(t)
	a, b := f.start("a"), f.start("b")
	waitNodes(t, 2, a, b)
	settle(t, a, b)
	cr := a.create(a.guest("ann"), map[string]any{"game": "arena"})
	id := cr.Match.ID
	ann := a.connect("ann")
	ann.join(id, "")
	bob := b.connect("bob")
	mb := &game.Mirror{}
	jb := bob.join(id, "")
	if err := mb.ApplyJoined(&jb); err != nil {
		t.Fatal(err)
	}
	f.waitCheckpoint(id, 1)
	f.kill("a")
	untilEpoch(bob, mb, 2)
	// "SIGCONT": the process did not run (its watchdog's last beat is old), Redis is reachable.
	a.bus.guard.aliveAt.Store(time.Now().Add(-time.Minute).UnixNano())
	m, ok := a.srv.Registry().Get(id)
	if !ok {
		t.Fatal("the stale copy is gone already")
	}
	var last uint32
	if err := m.Inspect(context.Background(), func(c *game.Ctx) { last = c.Tick() }); err != nil {
		t.Fatal(err)
	}
	// An input waits in the stale copy's inbox: a tick after the pause would apply it and send
	// a delta.
	ann.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 1, Payload: arena.EncodeInput(nil, 1, 0)})
	f.revive("a")
	for {
		msg := ann.next()
		if msg.Op == protocol.OpDelta && msg.Tick > last {
			t.Fatalf("the stale owner sent tick %d after its pause (last tick before it: %d)", msg.Tick, last)
		}
		if msg.Op == protocol.OpEnd {
			if msg.Reason != protocol.EndMoved {
				t.Fatalf("END reason %d, want 6 MOVED", msg.Reason)
			}
			break
		}
	}
	// The relayed player plays on in epoch 2 (its input applied), and never sees epoch 1 again.
	bob.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 1, Payload: arena.EncodeInput(nil, 1, 0)})
	for {
		msg := bob.feed(mb)
		if msg.Epoch != 2 {
			t.Fatalf("relayed player got a frame of epoch %d after following epoch 2", msg.Epoch)
		}
		if msg.Op == protocol.OpDelta && msg.Ack >= 1 {
			break
		}
	}
	if got := testutil.ToFloat64(a.bus.fo.m.stopped); got != 1 {
		t.Fatalf("stale copies stopped: %v, want 1", got)
	}
}

// Draining the only instance (nowhere to hand the match to) ends it STOPPED, as without a
// cluster, and counts no failed hand-off.
func TestDrainAloneEndsStopped(t *testing.T) {
	f := newFailoverNet(t)
	a := f.start("a")
	waitNodes(t, 1, a)
	cr := a.create(a.guest("ann"), map[string]any{"game": "arena"})
	ann := a.connect("ann")
	ann.join(cr.Match.ID, "")
	go a.stop()
	end := ann.expect(protocol.OpEnd)
	if end.Reason != protocol.EndStopped {
		t.Fatalf("END reason %d, want STOPPED", end.Reason)
	}
	if code, _ := closedWith(t, ann); code != uint16(protocol.CloseShutdown) {
		t.Fatalf("closed with %d, want 4000", code)
	}
}

// A hand-off the target refuses (it has no checkpoint store) falls back to END STOPPED,
// counted as failed, and leaves a tombstone: nobody restores the match afterwards.
func TestDrainRefusedEndsStopped(t *testing.T) {
	f := newFailoverNet(t)
	a := f.start("a")
	b := f.start("b", func(bc *BusConfig, _ *server.Config) { bc.Checkpoints = nil })
	waitNodes(t, 2, a, b)
	m, err := a.srv.Registry().Create(game.CreateOptions{Game: "arena"})
	must(t, err)
	must(t, a.bus.Announce(context.Background(), m.ID()))
	ann := a.connect("ann")
	ann.join(m.ID(), "")
	go a.stop()
	end := ann.expect(protocol.OpEnd)
	if end.Reason != protocol.EndStopped {
		t.Fatalf("END reason %d, want STOPPED", end.Reason)
	}
	closedWith(t, ann)
	if failed := testutil.ToFloat64(a.bus.fo.m.handoffs.WithLabelValues(handoffFailed)); failed != 1 {
		t.Fatalf("%v failed hand-offs counted, want 1", failed)
	}
	if _, err := f.store.Get(context.Background(), m.ID()); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("the checkpoint of the stopped match: %v, want a tombstone", err)
	}
	if len(owners(m.ID(), b)) != 0 {
		t.Fatal("the refusing instance runs the match")
	}
}

// Nobody relays the match when its owner dies: its player reconnects to another instance and
// JOINs the match by id with its token; that instance claims it (Locate finds no lease) and the
// player takes its seat back (same pid, epoch 2, its ack carried over).
func TestFailoverClaimedByReconnectingPlayer(t *testing.T) {
	f := newFailoverNet(t)
	a, b := f.start("a"), f.start("b")
	waitNodes(t, 2, a, b)
	settle(t, a, b)
	m, err := a.srv.Registry().Create(game.CreateOptions{Game: "arena"})
	must(t, err)
	must(t, a.bus.Announce(context.Background(), m.ID()))
	tok := a.guest("ann")
	ann := a.dialToken(tok)
	mi := &game.Mirror{}
	j := ann.join(m.ID(), "")
	must(t, mi.ApplyJoined(&j))
	ann.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 1, Payload: arena.EncodeInput(nil, 1, 0)})
	ann.feedUntil(mi, func(msg *protocol.ServerMsg) bool { return msg.Op == protocol.OpDelta && msg.Ack >= 1 })
	f.waitCheckpointAfter(m.ID(), j.Tick+2)
	f.kill("a")
	f.leaseExpired(m.ID())
	again := b.dialToken(tok)
	j2 := again.join(m.ID(), "")
	if j2.Epoch != 2 || j2.PID != j.PID || j2.Ack < 1 {
		t.Fatalf("JOINED on b: epoch %d pid %d ack %d, want epoch 2, pid %d, ack ≥ 1", j2.Epoch, j2.PID, j2.Ack, j.PID)
	}
	if len(owners(m.ID(), b)) != 1 {
		t.Fatal("b does not run the match")
	}
}
