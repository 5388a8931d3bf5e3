package cluster

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tickrelay/tickrelay/server/auth"
)

// The arena across two instances over a real standalone redis-server.
func TestClusterArenaRedis(t *testing.T) {
	_, rc := standalone(t)
	a, b := redisPair(t, rc)
	playArena(t, a, b)
}

// The arena across two instances over a real 3-master Redis Cluster (sharded Pub/Sub).
func TestClusterArenaRedisCluster(t *testing.T) {
	_, rc := cluster3(t)
	a, b := redisPair(t, rc)
	playArena(t, a, b)
}

// 1,000 parallel uses of one ticket, half on each of two instances: exactly one is accepted.
func TestTicketSingleUseAcrossInstances(t *testing.T) {
	for _, tc := range []struct {
		name string
		sub  func(t *testing.T) substrate
	}{
		{"memory", func(t *testing.T) substrate {
			return memorySubstrate(NewMemoryNetwork(), NewMemoryDirectory(DirectoryConfig{}))
		}},
		{"redis", func(t *testing.T) substrate { _, rc := standalone(t); return redisSubstrate(t, rc) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := tc.sub(t)
			a, b := startInstance(t, "a", sub), startInstance(t, "b", sub)
			waitNodes(t, 2, a, b)
			tok := a.guest("p")
			cr := a.create(tok, map[string]any{"game": "arena"})
			player := guestID(t, a, tok)
			var ok, used, other atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 1000; i++ {
				in := a
				if i%2 == 1 {
					in = b
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := in.srv.Reservations().Redeem(context.Background(), cr.Reservation.Ticket, player, "")
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, auth.ErrInvalidToken):
						used.Add(1)
					default:
						other.Add(1)
						t.Errorf("redeem: %v", err)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 1 || used.Load() != 999 {
				t.Fatalf("accepted %d, refused as used %d, other errors %d", ok.Load(), used.Load(), other.Load())
			}
			t.Logf("1000 parallel uses over 2 instances: %d accepted, %d refused", ok.Load(), used.Load())
		})
	}
}

func guestID(t *testing.T, in *instance, tok string) string {
	t.Helper()
	s, err := in.srv.Authenticate(bearerRequest(tok))
	must(t, err)
	return s.PlayerID
}
