package checkpoint_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server/checkpoint"
	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

func redisStore(t *testing.T) *checkpoint.RedisStore {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { c.Close() })
	return checkpoint.NewRedisStore(c, fmt.Sprintf("t%d:", time.Now().UnixNano()), time.Minute)
}

// TestStoresFencedByEpoch: both stores keep a later epoch against an earlier one's Put and
// Delete.
func TestStoresFencedByEpoch(t *testing.T) {
	for name, s := range map[string]checkpoint.Store{"memory": checkpoint.NewMemoryStore(), "redis": redisStore(t)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := s.Get(ctx, "m"); !errors.Is(err, checkpoint.ErrNotFound) {
				t.Fatalf("get of nothing: %v", err)
			}
			taken := time.UnixMilli(time.Now().UnixMilli())
			r2 := checkpoint.Record{Match: "m", Game: "arena", Epoch: 2, Tick: 40, Taken: taken, Data: []byte{1, 2, 0, 3}}
			if err := s.Put(ctx, r2); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, checkpoint.Record{Match: "m", Epoch: 1, Tick: 90, Data: []byte{9}}); !errors.Is(err, checkpoint.ErrFenced) {
				t.Fatalf("put of an earlier epoch: %v", err)
			}
			if err := s.Delete(ctx, "m", 1); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, "m")
			if err != nil || got.Epoch != 2 || got.Tick != 40 || got.Game != "arena" || string(got.Data) != string(r2.Data) || !got.Taken.Equal(taken) {
				t.Fatalf("get: %+v %v, want %+v", got, err, r2)
			}
			if err := s.Delete(ctx, "m", 2); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, "m"); !errors.Is(err, checkpoint.ErrNotFound) {
				t.Fatalf("get after delete: %v", err)
			}
			// The tombstone: a Put of the ended epoch still in flight does not bring it back;
			// a later epoch (the match restored elsewhere) is stored.
			if err := s.Put(ctx, checkpoint.Record{Match: "m", Epoch: 2, Tick: 41, Data: []byte{7}}); !errors.Is(err, checkpoint.ErrFenced) {
				t.Fatalf("put of the ended epoch: %v", err)
			}
			if _, err := s.Get(ctx, "m"); !errors.Is(err, checkpoint.ErrNotFound) {
				t.Fatalf("get after a fenced put: %v", err)
			}
			if err := s.Put(ctx, checkpoint.Record{Match: "m", Epoch: 3, Tick: 50, Data: []byte{8}}); err != nil {
				t.Fatalf("put of a later epoch: %v", err)
			}
			if got, err := s.Get(ctx, "m"); err != nil || got.Epoch != 3 {
				t.Fatalf("get of the later epoch: %+v %v", got, err)
			}
		})
	}
}

// notifying wraps a Store and reports each Put and Delete that went through.
type notifying struct {
	checkpoint.Store
	puts, dels chan checkpoint.Record
	block      chan struct{} // non-nil: Put waits for it to close
	entered    chan struct{} // told (if it has room) when a Put starts
}

func (n *notifying) Put(ctx context.Context, r checkpoint.Record) error {
	select {
	case n.entered <- struct{}{}:
	default:
	}
	if n.block != nil {
		<-n.block
	}
	err := n.Store.Put(ctx, r)
	if err == nil {
		n.puts <- r
	}
	return err
}

func (n *notifying) Delete(ctx context.Context, m string, e uint32) error {
	err := n.Store.Delete(ctx, m, e)
	n.dels <- checkpoint.Record{Match: m, Epoch: e}
	return err
}

func recv(t *testing.T, ch chan checkpoint.Record) checkpoint.Record {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("nothing stored")
		return checkpoint.Record{}
	}
}

// TestWriterToRedisAndRestore: an arena match on a registry with a Writer over a real
// redis-server; its checkpoint (taken every second) is stored, restored on another registry in
// epoch 2 with both players' seats and their acks, and deleted when the match ends.
func TestWriterToRedisAndRestore(t *testing.T) {
	st := &notifying{Store: redisStore(t), puts: make(chan checkpoint.Record, 16), dels: make(chan checkpoint.Record, 16)}
	w := checkpoint.NewWriter(checkpoint.WriterConfig{Store: st, Log: slog.New(slog.DiscardHandler)})
	defer w.Close(context.Background())
	cat := game.NewCatalog()
	cat.Register(arena.Type)
	clock := game.NewManualClock()
	reg := game.NewRegistry(game.RegistryConfig{Catalog: cat, Clock: clock, NoStagger: true, Log: slog.New(slog.DiscardHandler), Checkpoints: w})
	defer reg.Shutdown(context.Background())
	m, err := reg.Create(game.CreateOptions{Game: "arena", ID: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		if _, err := m.StartJoin(ctx, u, u, nil, nopSink{}, 1); err != nil {
			t.Fatal(err)
		}
	}
	step := func() {
		clock.Advance(50 * time.Millisecond)
		if err := m.Inspect(ctx, func(*game.Ctx) {}); err != nil {
			t.Fatal(err)
		}
	}
	step()
	for seq := uint32(1); seq <= 19; seq++ { // 20 ticks at 20 Hz: the checkpoint of tick 20
		m.Input(1, seq, 0, arena.EncodeInput(nil, 1, 0))
		m.Input(2, seq, 0, arena.EncodeInput(nil, 0, 1))
		step()
	}
	r := recv(t, st.puts)
	if r.Match != "a1" || r.Epoch != 1 || r.Tick != 20 || r.Game != "arena" {
		t.Fatalf("stored %+v", r)
	}
	if got := testutil.CollectAndCount(w.Collectors()[0]); got != 1 {
		t.Fatalf("bytes histogram: %d series", got)
	}
	stored, err := st.Get(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	reg2 := game.NewRegistry(game.RegistryConfig{Catalog: cat, Clock: game.NewManualClock(), NoStagger: true, Log: slog.New(slog.DiscardHandler)})
	defer reg2.Shutdown(context.Background())
	nm, err := reg2.Restore(stored.Data, 0)
	if err != nil {
		t.Fatal(err)
	}
	info := nm.Info()
	if info.Epoch != 2 || info.Tick != 20 || info.Players != 2 {
		t.Fatalf("restored %+v", info)
	}
	var x float64
	var acks []uint32
	nm.Inspect(ctx, func(c *game.Ctx) {
		x = c.State().Get(1).Field(arena.KeyX).Float()
		c.Players(func(p *game.Player) { acks = append(acks, p.LastInput) })
	})
	var ox float64
	m.Inspect(ctx, func(c *game.Ctx) { ox = c.State().Get(1).Field(arena.KeyX).Float() })
	if x != ox || len(acks) != 2 || acks[0] != 19 || acks[1] != 19 {
		t.Fatalf("restored x %v (old %v), acks %v", x, ox, acks)
	}
	m.Stop(protocol.EndStopped)
	<-m.Done()
	if d := recv(t, st.dels); d.Match != "a1" || d.Epoch != 1 {
		t.Fatalf("deleted %+v", d)
	}
	if _, err := st.Get(ctx, "a1"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("an ended match's checkpoint: %v", err)
	}
}

type nopSink struct{}

func (nopSink) Deliver(_, _ []byte)                           {}
func (nopSink) Detached(string, uint32, protocol.LeaveReason) {}

// TestWriterNeverBlocks: with the store stuck, Offer returns at once, keeps only the newest
// checkpoint of each match, refuses over MaxPending and MaxBytes (counted), and once the store
// answers the newest one is stored.
func TestWriterNeverBlocks(t *testing.T) {
	st := &notifying{Store: checkpoint.NewMemoryStore(), puts: make(chan checkpoint.Record, 64), dels: make(chan checkpoint.Record, 64), block: make(chan struct{}), entered: make(chan struct{}, 1)}
	w := checkpoint.NewWriter(checkpoint.WriterConfig{Store: st, MaxPending: 3, MaxBytes: 100, Log: slog.New(slog.DiscardHandler)})
	fail := func(reason string) float64 {
		return testutil.ToFloat64(w.Collectors()[2].(*prometheus.CounterVec).WithLabelValues(reason))
	}
	start := time.Now()
	w.Offer(game.MatchCheckpoint{Match: "m0", Epoch: 1, Tick: 1, Data: []byte{1}}) // the writer takes it and waits on the store
	select {
	case <-st.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer never called the store")
	}
	for tick := uint32(1); tick <= 1000; tick++ {
		for i := range 5 {
			w.Offer(game.MatchCheckpoint{Match: fmt.Sprint("m", i), Epoch: 1, Tick: tick, Data: []byte{byte(tick)}})
		}
	}
	w.Offer(game.MatchCheckpoint{Match: "m1", Epoch: 1, Tick: 2000, Data: make([]byte, 101)})
	w.Offer(game.MatchCheckpoint{Match: "m1", Err: errors.New("game refused")})
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("5,000 offers took %v with the store stuck", d)
	}
	if fail(checkpoint.FailTooLarge) != 1 || fail(checkpoint.FailEncode) != 1 || fail(checkpoint.FailPending) == 0 {
		t.Fatalf("failures: too_large %v encode %v pending %v", fail(checkpoint.FailTooLarge), fail(checkpoint.FailEncode), fail(checkpoint.FailPending))
	}
	close(st.block)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	last := map[string]uint32{}
	for len(st.puts) > 0 {
		r := <-st.puts
		last[r.Match] = r.Tick
	}
	for _, id := range []string{"m0", "m1", "m2"} {
		if last[id] != 1000 {
			t.Fatalf("%s: last stored tick %d, want 1000 (stored %v)", id, last[id], last)
		}
	}
	if _, ok := last["m4"]; ok {
		t.Fatalf("m4 was stored past MaxPending: %v", last)
	}
}
