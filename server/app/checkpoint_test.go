package app

import (
	"context"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

type nopSink struct{}

func (nopSink) Deliver(_, _ []byte)                           {}
func (nopSink) Detached(string, uint32, protocol.LeaveReason) {}

// With --redis an arena match's checkpoints reach Redis every --checkpoint-every, and they are
// deleted when the match ends (a tombstone stays); without Redis nothing is checkpointed (no sink: checked by the
// registry's nil Checkpoints, see game's tests).
func TestCheckpointsInRedis(t *testing.T) {
	rd := redistest.Start(t)
	srv, stop := start(t, []string{"--listen", "127.0.0.1:0", "--admin", "", "--redis", rd.Addr, "--node", "cp-test",
		"--secret", "0123456789abcdef0123456789abcdef-cp", "--log-level", "error", "--checkpoint-every", "100ms"})
	defer stop()
	m, err := srv.Registry().Create(game.CreateOptions{Game: "arena"})
	if err != nil {
		t.Fatal(err)
	}
	jctx, jcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer jcancel()
	if _, err := m.Join(jctx, "u1", "one", nil, nopSink{}, 1); err != nil {
		t.Fatal(err)
	}
	key := "tickrelay:cp:{" + m.ID() + "}"
	waitRedis(t, rd, key, "1")
	m.Stop(protocol.EndStopped)
	<-m.Done()
	waitRedis(t, rd, key, "0")
}

// waitRedis polls HEXISTS key data until it answers want (the writer stores from its own goroutine).
func waitRedis(t *testing.T, rd *redistest.Server, key, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := rd.Do("HEXISTS", key, "data")
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("HEXISTS %s data = %q (%v), want %s", key, got, err, want)
		}
		time.Sleep(20 * time.Millisecond) // polling Redis, not synchronising the test
	}
}
