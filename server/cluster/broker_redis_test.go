package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// collector gathers messages by channel.
type collector struct{ ch chan string }

func newCollector() *collector { return &collector{ch: make(chan string, 1<<14)} }

func (c *collector) handle(channel string, msg []byte) {
	select {
	case c.ch <- channel + "|" + string(msg):
	default:
	}
}

func (c *collector) want(t *testing.T, n int) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case m := <-c.ch:
			got[m] = true
		case <-deadline:
			t.Fatalf("got %d of %d messages", len(got), n)
		}
	}
	return got
}

func TestRedisBrokerStandalone(t *testing.T) {
	_, rc := standalone(t)
	names := testNames()
	a, b := newBroker(t, rc), newBroker(t, rc)
	ctx := context.Background()
	c := newCollector()
	for i := 0; i < 10; i++ {
		if err := b.Subscribe(ctx, names.Match(fmt.Sprint(i)), c.handle); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "subscriber up", func() bool { return b.Health() == nil })
	for i := 0; i < 10; i++ {
		if err := a.Publish(ctx, names.Match(fmt.Sprint(i)), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	c.want(t, 10)
	if err := b.Unsubscribe(ctx, names.Match("0")); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, names.Match("1"), make([]byte, DefaultMaxMessage+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
}

// Channels of 60 matches spread over the 3 shards; one broker subscribes to all, another
// publishes: every message arrives (go-redis' own SSubscribe would serve one shard).
func TestRedisBrokerClusterShards(t *testing.T) {
	c3, rc := cluster3(t)
	names := testNames()
	a, b := newBroker(t, rc), newBroker(t, rc)
	ctx := context.Background()
	col := newCollector()
	owners := map[string]int{}
	const n = 60
	for i := 0; i < n; i++ {
		ch := names.Match(fmt.Sprintf("match-%d", i))
		o, err := c3.Owner(Slot(ch))
		if err != nil {
			t.Fatal(err)
		}
		owners[o.Addr]++
		if want, err := c3.Nodes[0].Do("CLUSTER", "KEYSLOT", ch); err != nil || want != fmt.Sprint(Slot(ch)) {
			t.Fatalf("Slot(%q) = %d, Redis says %s (%v)", ch, Slot(ch), want, err)
		}
		if err := b.Subscribe(ctx, ch, col.handle); err != nil && !errors.Is(err, ErrUnavailable) {
			t.Fatal(err)
		}
	}
	if len(owners) != 3 {
		t.Fatalf("60 match channels on %d shards, want 3: %v", len(owners), owners)
	}
	waitFor(t, 10*time.Second, "subscribers on every shard up", func() bool { return b.Health() == nil && b.shardCount() == 3 })
	for i := 0; i < n; i++ {
		if err := a.Publish(ctx, names.Match(fmt.Sprintf("match-%d", i)), []byte("hi")); err != nil {
			t.Fatal(err)
		}
	}
	col.want(t, n)
	if got := testutil.ToFloat64(rc.Metrics.receives); got < n {
		t.Fatalf("receives metric %v < %d", got, n)
	}
}

// A slot moves to another master: the server unsubscribes the channel (SUNSUBSCRIBE), the
// broker resubscribes on the new owner and runs the OnReconnect hooks.
func TestRedisBrokerClusterSlotMove(t *testing.T) {
	c3, rc := cluster3(t)
	names := testNames()
	a, b := newBroker(t, rc), newBroker(t, rc)
	ctx := context.Background()
	var hooks atomic.Int32
	b.OnReconnect(func() { hooks.Add(1) })
	col := newCollector()
	ch := names.Match("moving")
	_ = b.Subscribe(ctx, ch, col.handle)
	waitFor(t, 10*time.Second, "subscribed", func() bool { return b.Health() == nil })
	if err := a.Publish(ctx, ch, []byte("before")); err != nil {
		t.Fatal(err)
	}
	col.want(t, 1)
	from, _ := c3.Owner(Slot(ch))
	to := c3.Nodes[0]
	if to == from {
		to = c3.Nodes[1]
	}
	if err := c3.MoveSlot(Slot(ch), to); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "hooks after the slot move", func() bool { return hooks.Load() > 0 })
	waitFor(t, 10*time.Second, "healthy after the slot move", func() bool { return b.Health() == nil })
	if got := b.ownerAddr(ch); got != to.Addr {
		t.Fatalf("channel subscribed on %s, slot now on %s", got, to.Addr)
	}
	if err := a.Publish(ctx, ch, []byte("after")); err != nil {
		t.Fatal(err)
	}
	got := col.want(t, 1)
	if !got[ch+"|after"] {
		t.Fatalf("after the move got %v", got)
	}
}

func (b *RedisBroker) shardCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.shards)
}

func (b *RedisBroker) ownerAddr(ch string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if sh := b.owner[ch]; sh != nil {
		return sh.addr
	}
	return ""
}
