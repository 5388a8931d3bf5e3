package cluster

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// testNames gives a test its own key prefix.
func testNames() Names { return Names{Prefix: fmt.Sprintf("t%d", rand.Uint64())} }

// waitFor polls cond (state held by a real Redis or the broker's own goroutines) until it
// holds, failing after timeout; it returns how long that took.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not after %v", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func standalone(t *testing.T) (*redistest.Server, RedisConfig) {
	s := redistest.Start(t)
	return s, RedisConfig{Addr: s.Addr, Metrics: NewMetrics()}
}

func cluster3(t *testing.T) (*redistest.Cluster, RedisConfig) {
	c := redistest.StartCluster(t, 3)
	return c, RedisConfig{ClusterAddrs: c.Addrs(), Metrics: NewMetrics()}
}

// redisPair starts instances a and b over rc (each with its own broker and directory clients)
// and waits until both see both.
func redisPair(t *testing.T, rc RedisConfig) (a, b *instance) {
	t.Helper()
	sub := redisSubstrate(t, rc)
	a, b = startInstance(t, "a", sub), startInstance(t, "b", sub)
	waitNodes(t, 2, a, b)
	return a, b
}

func newBroker(t *testing.T, rc RedisConfig) *RedisBroker {
	t.Helper()
	b, err := NewRedisBroker(rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func newRedisDir(t *testing.T, rc RedisConfig, dc DirectoryConfig) *RedisDirectory {
	t.Helper()
	d, err := NewRedisDirectory(rc, dc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}
