// Package loadgen is the load generator behind bench/cmd/loadgen: it starts (or targets) a
// server, drives one of the workloads of shared/workloads.md against it over 127.0.0.1 with
// WebSocket clients, reads the server's CPU and memory from /proc, and produces one result line
// per run (bench/internal/result).
package loadgen

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Scenarios.
const (
	ScenarioArena   = "arena"         // M×P players against the real server
	ScenarioFloor   = "floor"         // the same workload against the transport floor
	ScenarioFanout  = "fanout"        // one sender, N spectators
	ScenarioStorm   = "connect-storm" // N connections, opened 200 at a time, idle, closed
	ScenarioCluster = "arena-cluster" // arena over several instances and a redis-server (cluster.go)
	ScenarioMM      = "matchmaking"   // tickets arriving at a rate into the duel and arena queues
	ScenarioIdle    = "idle-matches"  // M matches created and never joined: the idle cost of a match
)

// Targets: what serves the run.
const (
	TargetTickrelay = "tickrelay" // ./server/cmd/tickrelay, built and started here
	TargetFloor     = "floor"     // ./bench/cmd/floor, built and started here (the gws floor)
	TargetEpoll     = "epoll"     // ./bench/cmd/floor --epoll: the epoll floor (one thread, raw system calls)
	TargetExternal  = "external"  // -addr: already running
	TargetColyseus  = "colyseus"  // bench/colyseus: Colyseus 0.16 on Node and its SDK's clients (colyseus.go)
)

// Clients: how arena and floor drive their connections (the other scenarios use gws clients).
const (
	ClientEpoll = "epoll" // pools of epoll clients (pool.go): the same messages, less load-generator CPU
	ClientGws   = "gws"   // a gws connection, read goroutine and the senders' goroutines per client
)

// Config is one invocation's settings (the command's flags).
type Config struct {
	Scenario string
	Target   string // "" picks: floor for the floor scenario, tickrelay otherwise

	Addr       string   // external server host:port (loopback only); empty: start one
	ServerPID  int      // with Addr: the server's pid, for /proc readings
	ServerBin  string   // use this binary instead of building one
	ServerArgs string   // argument template: {addr}, {admin} and {maxrt} are replaced
	ServerEnv  []string // KEY=VALUE added to the started server's environment (e.g. GOMAXPROCS=1)
	RepoDir    string   // the module root (found from the working directory when empty)
	LogDir     string   // where the started server's log goes

	Matches    int // M
	Players    int // P
	Spectators int // fanout: N
	Game       string

	Tickets   int     // matchmaking: tickets in all
	Rate      float64 // matchmaking: tickets per second
	DuelShare float64 // matchmaking: the share of tickets in the duel queue (the rest: arena)
	// MMInstances > 1 runs matchmaking over that many instances and a redis-server.
	MMInstances int

	Connections int           // connect-storm: N
	Batch       int           // connect-storm: connections in flight at a time
	Idle        time.Duration // connect-storm: how long the connections stay idle
	LobbySize   int           // connect-storm: players per lobby match

	Warmup   time.Duration
	Duration time.Duration
	Drain    time.Duration
	Interval time.Duration // between a client's inputs (50 ms = 20 Hz)
	Probe    bool          // one measuring player per match, the others only count frames

	SetupConcurrency int           // clients being set up at once
	SetupTimeout     time.Duration // for the whole setup phase
	Senders          int           // input-sending goroutines (gws clients)
	Client           string        // arena, floor: ClientEpoll or ClientGws
	Pools            int           // epoll clients: pools (one goroutine and epoll descriptor each)

	Capacity     bool
	CapacityMax  int // largest M tried
	CapacityReps int

	Instances int           // arena-cluster: server instances (≥ 2)
	Spread    int           // arena-cluster: instances each match's players are spread over (2: half remote)
	Fault     string        // arena-cluster: a fault injected in the window (cluster_fault.go), "" none
	FaultAt   time.Duration // arena-cluster: when, into the window
	FaultFor  time.Duration // arena-cluster: how long Redis stays away

	Syscalls bool // count the server's system calls in the window with perf stat
	Check    bool // -target colyseus: check the harness's own invariants (colyseus_check.go)
	// ColyseusProcs is how many Node processes run the Colyseus clients (rooms split between them).
	ColyseusProcs int
	NoisyCores    float64 // "other" CPU above this (in cores) marks the run noisy
	TickMetric    string  // Prometheus histogram of tick durations on /metrics
	Out           string  // JSONL file the result lines are appended to
	Label         string
	Verbose       bool
}

// Defaults returns the workloads.md defaults.
func Defaults() Config {
	return Config{
		Scenario:         ScenarioArena,
		Matches:          50,
		Players:          10,
		Spectators:       1000,
		Connections:      10000,
		Tickets:          10000,
		Rate:             1000,
		DuelShare:        0.5,
		MMInstances:      1,
		Batch:            200,
		Idle:             10 * time.Second,
		LobbySize:        1000,
		Warmup:           5 * time.Second,
		Duration:         20 * time.Second,
		Drain:            2 * time.Second,
		Interval:         50 * time.Millisecond,
		SetupConcurrency: 32,
		SetupTimeout:     120 * time.Second,
		Senders:          2,
		Client:           ClientEpoll,
		Pools:            1,
		CapacityMax:      1000,
		CapacityReps:     2,
		Instances:        2,
		Spread:           2,
		FaultAt:          5 * time.Second,
		FaultFor:         5 * time.Second,
		NoisyCores:       0.25,
		ColyseusProcs:    1,
		TickMetric:       "tickrelay_tick_duration_seconds",
		Out:              "bench/out/results.jsonl",
	}
}

// Normalize checks c and fills what depends on other settings.
func (c *Config) Normalize() error {
	switch c.Scenario {
	case ScenarioArena, ScenarioFloor, ScenarioFanout, ScenarioStorm, ScenarioMM, ScenarioIdle:
	case ScenarioCluster:
		if c.Addr != "" {
			return errors.New("arena-cluster starts its own instances and Redis: no -addr")
		}
		if c.Instances < 2 || c.Spread < 1 || c.Spread > c.Instances {
			return fmt.Errorf("arena-cluster: -instances %d must be ≥ 2 and -spread %d in 1..instances", c.Instances, c.Spread)
		}
		if err := checkFault(c); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown scenario %q (arena, floor, fanout, connect-storm, matchmaking, arena-cluster, idle-matches)", c.Scenario)
	}
	if c.Addr != "" {
		if err := loopbackOnly(c.Addr); err != nil {
			return err
		}
		c.Target = TargetExternal
	} else if c.Target == "" {
		c.Target = TargetTickrelay
		if c.Scenario == ScenarioFloor {
			c.Target = TargetFloor
		}
	}
	switch c.Target {
	case TargetTickrelay, TargetFloor, TargetEpoll, TargetExternal:
	case TargetColyseus:
		if c.Scenario != ScenarioArena {
			return errors.New("-target colyseus serves -scenario arena only")
		}
		if c.TickMetric == Defaults().TickMetric {
			c.TickMetric = ColyseusTickMetric
		}
	default:
		return fmt.Errorf("unknown target %q (tickrelay, floor, epoll, colyseus)", c.Target)
	}
	if c.Check && c.Target != TargetColyseus {
		return errors.New("-check is for -target colyseus")
	}
	if c.Scenario == ScenarioFloor && c.Target == TargetTickrelay {
		return errors.New("scenario floor runs against the floor: use -scenario arena for the real server")
	}
	if c.Game == "" {
		c.Game = "arena"
		if c.Scenario == ScenarioStorm {
			c.Game = "relay"
		}
	}
	if c.Matches < 1 || c.Players < 1 || c.Spectators < 0 || c.Connections < 1 || c.Batch < 1 || c.LobbySize < 1 {
		return errors.New("matches, players, connections, batch and lobby size must be positive")
	}
	if c.Scenario == ScenarioMM && (c.Tickets < 1 || c.Rate <= 0 || c.DuelShare < 0 || c.DuelShare > 1) {
		return errors.New("matchmaking: tickets and rate must be positive, duel-share within [0, 1]")
	}
	if c.Duration <= 0 || c.Interval <= 0 || c.Warmup < 0 || c.Drain < 0 {
		return errors.New("duration and interval must be positive, warmup and drain not negative")
	}
	if c.SetupConcurrency < 1 {
		c.SetupConcurrency = 1
	}
	if c.Senders < 1 {
		c.Senders = 1
	}
	if c.Pools < 1 {
		c.Pools = 1
	}
	switch c.Client {
	case ClientEpoll:
		if !havePool {
			return errors.New("-client epoll needs Linux: use -client gws")
		}
	case ClientGws:
	default:
		return fmt.Errorf("unknown -client %q (epoll, gws)", c.Client)
	}
	if c.CapacityReps < 1 {
		c.CapacityReps = 1
	}
	if c.RepoDir == "" {
		dir, err := findModuleRoot()
		if err != nil && c.Target != TargetExternal && c.ServerBin == "" {
			return err
		}
		c.RepoDir = dir
	}
	if c.Out == Defaults().Out && c.RepoDir != "" {
		c.Out = filepath.Join(c.RepoDir, c.Out) // the default lives in the repository's bench/out
	}
	if c.LogDir == "" {
		c.LogDir = filepath.Dir(c.Out)
	}
	return nil
}

// loopbackOnly refuses any address that is not on this machine's loopback.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: the load generator only targets loopback addresses (127.0.0.1)", addr)
	}
	return nil
}

func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the repository or pass -repo")
		}
		dir = parent
	}
}
