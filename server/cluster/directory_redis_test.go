package cluster

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRedisDirectory(t *testing.T) {
	_, rc := standalone(t)
	testDirectoryRules(t, newRedisDir(t, rc, DirectoryConfig{Names: testNames()}))
}

func TestRedisDirectoryCluster(t *testing.T) {
	_, rc := cluster3(t)
	names := testNames()
	d := newRedisDir(t, rc, DirectoryConfig{Names: names})
	testDirectoryRules(t, d)
	// 1,000 parallel uses of one key over two instances' clients: exactly one wins.
	testUseOnce(t, []Directory{d, newRedisDir(t, rc, DirectoryConfig{Names: names})}, 1000)
}

func TestRedisDirectoryUseOnce(t *testing.T) {
	_, rc := standalone(t)
	names := testNames()
	testUseOnce(t, []Directory{newRedisDir(t, rc, DirectoryConfig{Names: names}), newRedisDir(t, rc, DirectoryConfig{Names: names})}, 1000)
	// Without the per-instance sharing: 20 instances, 50 calls each, all racing in Redis.
	names = testNames()
	var ds []Directory
	for i := 0; i < 20; i++ {
		ds = append(ds, newRedisDir(t, rc, DirectoryConfig{Names: names}))
	}
	testUseOnce(t, ds, 1000)
	// A key used stays used (answered here, without Redis, after the first answer).
	d := ds[0].(*RedisDirectory)
	if ok, err := d.UseOnce(context.Background(), "ticket-1", time.Minute); ok || err != nil {
		t.Fatalf("reuse: %v %v", ok, err)
	}
}

func TestRedisDirectoryExpiry(t *testing.T) {
	_, rc := standalone(t)
	ttl := 400 * time.Millisecond
	d := newRedisDir(t, rc, DirectoryConfig{Names: testNames(), NodeTTL: ttl, LeaseTTL: ttl})
	ctx := context.Background()
	start := time.Now()
	if err := d.Heartbeat(ctx, NodeInfo{Name: "a", Load: 0.25}); err != nil {
		t.Fatal(err)
	}
	if err := d.Claim(ctx, MatchEntry{ID: "m", Node: "a", Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	if ns, err := d.Nodes(ctx); err != nil || len(ns) != 1 || ns[0].Load != 0.25 {
		t.Fatalf("nodes: %+v %v", ns, err)
	}
	waitFor(t, 3*time.Second, "heartbeat expiry", func() bool { ns, _ := d.Nodes(ctx); return len(ns) == 0 })
	waitFor(t, 3*time.Second, "lease expiry", func() bool {
		_, err := d.Lookup(ctx, "m")
		return errors.Is(err, ErrNotFound)
	})
	if el := time.Since(start); el < ttl {
		t.Fatalf("expired after %v, before the TTL %v", el, ttl)
	}
	// The fence outlives the lease: another node needs epoch+1.
	if err := d.Claim(ctx, MatchEntry{ID: "m", Node: "b", Epoch: 1}); !errors.Is(err, ErrFenced) {
		t.Fatalf("claim at the expired lease's epoch by another node: %v", err)
	}
	if err := d.Claim(ctx, MatchEntry{ID: "m", Node: "b", Epoch: 2}); err != nil {
		t.Fatalf("failover claim: %v", err)
	}
	if page, _, err := d.List(ctx, "", 10); err != nil || len(page) != 1 || page[0].Node != "b" {
		t.Fatalf("list after failover: %+v %v", page, err)
	}
}

// Redis down: every call fails within its deadline with ErrUnavailable.
func TestRedisDirectoryDown(t *testing.T) {
	s, rc := standalone(t)
	d := newRedisDir(t, rc, DirectoryConfig{Names: testNames()})
	if err := s.Freeze(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Thaw() }()
	start := time.Now()
	_, err := d.UseOnce(context.Background(), "k", time.Minute)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("UseOnce on a frozen Redis: %v", err)
	}
	if el := time.Since(start); el > DefaultTimeout+500*time.Millisecond {
		t.Fatalf("UseOnce took %v on a frozen Redis, deadline %v", el, DefaultTimeout)
	}
}
