package loadgen

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestArenaCluster runs arena-cluster as real processes (two tickrelay instances and a
// redis-server), first without a fault, then with each fault of issue 10, and holds the pass
// figures: no instance exits, no player disconnected (but those of a killed instance), no delta
// on a wrong base, /healthz degraded ≤ 2 s, every remote player playing again ≤ 3 s after Redis
// is back, a definitive outcome ≤ 10 s (END, or playing on the instance that claimed the match)
// for the relayed players of a killed owner. make chaos runs it longer and
// bigger through the loadgen command.
func TestArenaCluster(t *testing.T) {
	repo, err := findModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin, err := BuildServer(ctx, repo, TargetTickrelay, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := Defaults()
	base.Scenario, base.Matches, base.Players = ScenarioCluster, 4, 4
	base.Warmup, base.Duration, base.Drain = time.Second, 9*time.Second, time.Second
	base.FaultAt, base.FaultFor = time.Second, 3*time.Second
	base.Out = filepath.Join(t.TempDir(), "results.jsonl")
	base.ServerArgs = DefaultArgs[TargetTickrelay]
	base.RepoDir = repo
	for _, fault := range append([]string{""}, faults...) {
		name := fault
		if name == "" {
			name = "no-fault"
		}
		t.Run(name, func(t *testing.T) {
			c := base
			c.Fault = fault
			if err := c.Normalize(); err != nil {
				t.Fatal(err)
			}
			res, err := RunCluster(ctx, &c, bin, 2*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			t.Log("\n" + Summary(res))
			cl := res.Cluster
			if cl.Relayed == nil || cl.Relayed.Count == 0 || cl.Local == nil || cl.Local.Count == 0 {
				t.Fatalf("no latency samples for local or relayed players: %+v %+v", cl.Local, cl.Relayed)
			}
			if fault == "" {
				// Functional only: the 5 ms added-p99 goal is measured by the bench, not here.
				if res.Failures.Dropped > 0 || res.DeltaGaps > 0 || cl.ProcessExits > 0 || res.Failures.FailedJoins > 0 {
					t.Fatalf("drops %d, gaps %d, exits %d, failed joins %d", res.Failures.Dropped, res.DeltaGaps, cl.ProcessExits, res.Failures.FailedJoins)
				}
				if cl.PublishesTick <= 0 {
					t.Fatalf("no Redis publishes counted: %v per match tick", cl.PublishesTick)
				}
				return
			}
			if !res.Verdict.Pass {
				t.Fatalf("fault %s: %s", fault, res.Verdict.Reason)
			}
			if fault == FaultOBL && cl.Fault.SubscriberCuts == 0 {
				t.Fatal("the output buffer limit never cut a subscriber: the fault did not bite")
			}
		})
	}
}
