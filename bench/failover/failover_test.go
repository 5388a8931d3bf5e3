package failover

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

// make test runs small versions; make chaos the sizes:
//
//	go test ./bench/failover -run TestFailover -v -failover.matches 100 -failover.players 10
var (
	fMatches = flag.Int("failover.matches", 0, "matches per fault (0: the short version's)")
	fPlayers = flag.Int("failover.players", 0, "bots per match (0: the short version's)")
	fOnly    = flag.String("failover.fault", "", "run only this fault (kill9, sigstop, drain)")
	fLogs    = flag.String("failover.logs", "", "keep the instances' logs in this directory (default: the test's temporary one)")
	fSpread  = flag.Int("failover.spread", 0, "instances a match's bots connect to (0: all 3; 1: all on the owner, so that every bot reconnects)")
)

var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "failover-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bin, err = Build(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "building tickrelay:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func size(matches, players int) (int, int) {
	if *fMatches > 0 {
		matches = *fMatches
	}
	if *fPlayers > 0 {
		players = *fPlayers
	}
	return matches, players
}

func runFault(t *testing.T, fault string, matches, players int) {
	if *fOnly != "" && *fOnly != fault {
		t.Logf("-failover.fault %s: %s not run", *fOnly, fault)
		return
	}
	matches, players = size(matches, players)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	logs := *fLogs
	if logs == "" {
		logs = t.TempDir()
	}
	o := Options{Fault: fault, Matches: matches, Players: players, Spread: *fSpread, Bin: bin, LogDir: logs, Logf: t.Logf}
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	// One checkpoint interval: --checkpoint-every 1s at arena's 20 Hz.
	for _, f := range rep.Failures(10*time.Second, 20) {
		t.Error(f)
	}
}

// kill -9 the owner of every match mid-game: each bot plays again within 10 s, at most one
// checkpoint interval lost, mirrors equal to the restored server's state.
func TestFailoverKill9(t *testing.T) { runFault(t, FaultKill, 4, 6) }

// SIGSTOP the owner past its lease, then SIGCONT: the stale copy stops (END MOVED to whoever is
// still connected to it), no frame of it after that, every bot plays on the new owner.
func TestFailoverSigstop(t *testing.T) { runFault(t, FaultStop, 3, 6) }

// Drain the owner under load: nothing ends, no 1006, ≤ 1 tick lost, done within 10 s.
func TestFailoverDrain(t *testing.T) { runFault(t, FaultDrain, 8, 6) }
