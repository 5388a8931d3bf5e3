// Command loadgen runs the benchmark workloads of shared/workloads.md against tickrelay or the
// transport floor, over 127.0.0.1 only, and appends one JSON line per run to -out (and prints it
// on stdout, with a human summary on stderr).
//
//	go run ./bench/cmd/loadgen -scenario floor -matches 50 -players 10 -warmup 2s -duration 5s
//	go run ./bench/cmd/loadgen -scenario arena -probe -capacity
//	go run ./bench/cmd/loadgen -scenario fanout -spectators 1000
//	go run ./bench/cmd/loadgen -scenario connect-storm -connections 10000
//	go run ./bench/cmd/loadgen -scenario arena -addr 127.0.0.1:8080 -server-pid 1234
//
// Without -addr it builds the target (./server/cmd/tickrelay, or ./bench/cmd/floor for
// -scenario floor or -target floor) into a temporary directory, starts it on a free 127.0.0.1
// port, waits for GET /healthz, and stops it by its pid at the end. Every run is bounded: a
// watchdog ends the process (and the server it started) if a run overstays its budget.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tickrelay/tickrelay/bench/internal/result"
	"github.com/tickrelay/tickrelay/bench/loadgen"
)

func main() {
	cfg := loadgen.Defaults()
	flag.StringVar(&cfg.Scenario, "scenario", cfg.Scenario, "arena, floor (arena against a transport floor), fanout, connect-storm, matchmaking, arena-cluster (instances + redis-server) or idle-matches (-matches M created, never joined)")
	flag.StringVar(&cfg.Target, "target", "", "server to build and start: tickrelay, floor (the gws floor), epoll (the epoll floor) or colyseus (Colyseus 0.16 on Node with colyseus.js clients: bench/colyseus, arena only) (default: floor for -scenario floor, else tickrelay)")
	flag.StringVar(&cfg.Addr, "addr", "", "target an already running server at this 127.0.0.1 host:port instead of starting one")
	flag.IntVar(&cfg.ServerPID, "server-pid", 0, "with -addr: the server's pid, for its CPU and memory from /proc")
	flag.StringVar(&cfg.ServerBin, "server-bin", "", "start this binary instead of building the target")
	serverArgs := flag.String("server-args", "", "server argument template; {addr}, {admin}, {maxrt} are replaced (default per target: floor \""+
		loadgen.DefaultArgs[loadgen.TargetFloor]+"\", tickrelay \""+loadgen.DefaultArgs[loadgen.TargetTickrelay]+"\")")
	flag.StringVar(&cfg.RepoDir, "repo", "", "repository root (default: found from the working directory)")
	flag.Func("server-env", "KEY=VALUE for the started server's environment (repeatable), e.g. GOMAXPROCS=1", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("want KEY=VALUE")
		}
		cfg.ServerEnv = append(cfg.ServerEnv, s)
		return nil
	})

	flag.IntVar(&cfg.Matches, "matches", cfg.Matches, "M: matches (arena, floor; the start of -capacity)")
	flag.IntVar(&cfg.Players, "players", cfg.Players, "P: players per match")
	flag.IntVar(&cfg.Spectators, "spectators", cfg.Spectators, "fanout: N spectators")
	flag.StringVar(&cfg.Game, "game", "", "game for the matches (default arena; relay for connect-storm)")
	flag.IntVar(&cfg.Tickets, "tickets", cfg.Tickets, "matchmaking: tickets in all")
	flag.Float64Var(&cfg.Rate, "rate", cfg.Rate, "matchmaking: tickets opened per second")
	flag.IntVar(&cfg.MMInstances, "mm-instances", cfg.MMInstances, "matchmaking: instances (> 1: started beside one redis-server, sharing the queues)")
	flag.Float64Var(&cfg.DuelShare, "duel-share", cfg.DuelShare, "matchmaking: share of the tickets in the duel queue (the rest: arena)")
	flag.IntVar(&cfg.Connections, "connections", cfg.Connections, "connect-storm: N connections")
	flag.IntVar(&cfg.Batch, "batch", cfg.Batch, "connect-storm: connections being opened at a time")
	flag.DurationVar(&cfg.Idle, "idle", cfg.Idle, "connect-storm: how long the connections are held idle")
	flag.IntVar(&cfg.LobbySize, "lobby-size", cfg.LobbySize, "connect-storm: players per lobby match")

	flag.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "warm-up after everyone joined, inputs flowing")
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured window")
	flag.DurationVar(&cfg.Drain, "drain", cfg.Drain, "time allowed after the window for the acks of its inputs")
	flag.DurationVar(&cfg.Interval, "interval", cfg.Interval, "time between a client's inputs (50ms = 20 Hz)")
	flag.BoolVar(&cfg.Probe, "probe", false, "one measuring player per match; the others only count frames")

	flag.IntVar(&cfg.SetupConcurrency, "setup-concurrency", cfg.SetupConcurrency, "clients being set up (auth, connect, join) at once")
	flag.DurationVar(&cfg.SetupTimeout, "setup-timeout", cfg.SetupTimeout, "limit for setting everyone up")
	flag.IntVar(&cfg.Senders, "senders", cfg.Senders, "goroutines sending inputs (gws clients)")
	flag.StringVar(&cfg.Client, "client", cfg.Client, "arena, floor: epoll (pools of clients on one epoll loop each, raw non-blocking system calls) or gws (a gws connection and read goroutine per client, -senders goroutines): the same messages")
	flag.IntVar(&cfg.Pools, "pools", cfg.Pools, "epoll clients: pools (one goroutine each; clients spread round-robin)")

	flag.BoolVar(&cfg.Capacity, "capacity", false, "search the largest M (P=-players) under the verdict, -capacity-reps times")
	flag.IntVar(&cfg.CapacityMax, "capacity-max", cfg.CapacityMax, "largest M the capacity search tries")
	flag.IntVar(&cfg.CapacityReps, "capacity-reps", cfg.CapacityReps, "repetitions of the capacity search")

	flag.IntVar(&cfg.Instances, "instances", cfg.Instances, "arena-cluster: tickrelay instances started beside one redis-server")
	flag.IntVar(&cfg.Spread, "spread", cfg.Spread, "arena-cluster: instances each match's players are spread over (2: half on the owner, half on the next)")
	flag.StringVar(&cfg.Fault, "fault", "", "arena-cluster: inject redis-kill9, redis-sigstop, redis-debug-sleep, redis-client-kill, redis-obl or instance-kill9 into the window")
	flag.DurationVar(&cfg.FaultAt, "fault-at", cfg.FaultAt, "arena-cluster: when the fault starts, into the window")
	flag.DurationVar(&cfg.FaultFor, "fault-for", cfg.FaultFor, "arena-cluster: how long Redis stays away")
	flag.BoolVar(&cfg.Check, "check", false, "-target colyseus: check the harness's own counting (every input of the window acked once, counters against the server's); the verdict fails if a check does")
	flag.IntVar(&cfg.ColyseusProcs, "colyseus-procs", cfg.ColyseusProcs, "-target colyseus: Node processes running the colyseus.js clients (the rooms split between them; each is one JavaScript thread)")
	flag.BoolVar(&cfg.Syscalls, "syscalls", false, "count the server's system calls over the window with perf stat (raw_syscalls and a few by name; needs perf)")
	flag.Float64Var(&cfg.NoisyCores, "noisy-cores", cfg.NoisyCores, "mark a run noisy when other CPU use exceeds this many cores")
	flag.StringVar(&cfg.TickMetric, "tick-metric", cfg.TickMetric, "Prometheus histogram of tick durations read from /metrics")
	flag.StringVar(&cfg.Out, "out", cfg.Out, "JSONL file the result lines are appended to")
	flag.StringVar(&cfg.Label, "label", "", "free text stored with the result")
	flag.BoolVar(&cfg.Verbose, "v", false, "progress on stderr")
	cpuProfile := flag.String("cpuprofile", "", "write the load generator's own CPU profile to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	if err := cfg.Normalize(); err != nil {
		fatal(err)
	}
	cfg.ServerArgs = *serverArgs
	if cfg.Target == loadgen.TargetColyseus {
		bin, args, err := loadgen.ColyseusServer(cfg.RepoDir)
		if err != nil {
			fatal(err)
		}
		if cfg.ServerBin == "" {
			cfg.ServerBin = bin
		}
		if cfg.ServerArgs == "" {
			cfg.ServerArgs = args
		}
	}
	if cfg.ServerArgs == "" {
		cfg.ServerArgs = loadgen.DefaultArgs[cfg.Target]
		if cfg.Scenario == loadgen.ScenarioIdle && cfg.Target == loadgen.TargetTickrelay {
			cfg.ServerArgs += loadgen.IdleMatchArgs
		}
	}
	code := run(&cfg)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	os.Exit(code)
}

var (
	curMu  sync.Mutex
	curSrv *loadgen.Server
)

func setCurrent(s *loadgen.Server) { curMu.Lock(); curSrv = s; curMu.Unlock() }

func stopCurrent() {
	curMu.Lock()
	s := curSrv
	curSrv = nil
	curMu.Unlock()
	if s != nil {
		s.Stop()
	}
}

func run(cfg *loadgen.Config) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// every run stops by itself: a budget per run, times the trials of a capacity search
	perRun := cfg.SetupTimeout + cfg.Warmup + cfg.Duration + cfg.Drain + cfg.Idle + 90*time.Second
	if cfg.Scenario == loadgen.ScenarioMM {
		perRun = cfg.SetupTimeout + time.Duration(float64(cfg.Tickets)/cfg.Rate*float64(time.Second)) + 120*time.Second
	}
	budget := perRun
	if cfg.Capacity {
		budget = (perRun + 12*time.Second) * time.Duration(3*12*cfg.CapacityReps) // trials × noisy retries
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	watchdog := time.AfterFunc(budget+15*time.Second, func() {
		fmt.Fprintln(os.Stderr, "loadgen: watchdog: over budget, stopping")
		stopCurrent()
		os.Exit(3)
	})
	defer watchdog.Stop()

	bin := cfg.ServerBin
	if cfg.Target != loadgen.TargetExternal && bin == "" {
		dir, err := os.MkdirTemp("", "tickrelay-bench-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(dir)
		if cfg.Verbose {
			fmt.Fprintf(os.Stderr, "loadgen: building %s\n", cfg.Target)
		}
		if bin, err = loadgen.BuildServer(ctx, cfg.RepoDir, cfg.Target, dir); err != nil {
			return fail(err)
		}
	}
	start := func(ctx context.Context) (*loadgen.Server, error) {
		if cfg.Target == loadgen.TargetExternal {
			return &loadgen.Server{Addr: cfg.Addr, PID: cfg.ServerPID, Target: cfg.Target}, nil
		}
		s, err := loadgen.StartServer(ctx, bin, cfg.Target, cfg.ServerArgs, cfg.LogDir, cfg.ServerEnv, perRun)
		if err == nil {
			setCurrent(s)
			if cfg.Verbose {
				fmt.Fprintf(os.Stderr, "loadgen: %s pid %d on %s (log %s)\n", cfg.Target, s.PID, s.Addr, s.LogPath)
			}
		}
		return s, err
	}
	emit := func(res *result.Result) {
		line, err := result.Line(res)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			return
		}
		if err := result.Append(cfg.Out, res); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: writing", cfg.Out+":", err)
		}
		os.Stdout.Write(line)
		fmt.Fprint(os.Stderr, loadgen.Summary(res))
	}
	once := func(ctx context.Context, c *loadgen.Config) (*result.Result, error) {
		if c.Scenario == loadgen.ScenarioCluster {
			return loadgen.RunCluster(ctx, c, bin, perRun)
		}
		if c.Scenario == loadgen.ScenarioMM && c.MMInstances > 1 {
			return loadgen.RunMatchmakingCluster(ctx, c, bin, perRun)
		}
		srv, err := start(ctx)
		if err != nil {
			return nil, err
		}
		defer stopCurrent()
		var res *result.Result
		switch c.Scenario {
		case loadgen.ScenarioStorm:
			res, err = loadgen.RunStorm(ctx, c, srv)
		case loadgen.ScenarioMM:
			res, err = loadgen.RunMatchmaking(ctx, c, srv)
		case loadgen.ScenarioIdle:
			res, err = loadgen.RunIdleMatches(ctx, c, srv)
		default:
			if c.Target == loadgen.TargetColyseus {
				res, err = loadgen.RunColyseus(ctx, c, srv)
			} else {
				res, err = loadgen.RunLoad(ctx, c, srv)
			}
		}
		if err == nil && !srv.Alive() {
			res.Verdict.Pass = false
			res.Verdict.Reason = "the server exited during the run (log " + srv.LogPath + "); " + res.Verdict.Reason
		}
		return res, err
	}

	if cfg.Capacity {
		if cfg.Scenario != loadgen.ScenarioArena && cfg.Scenario != loadgen.ScenarioFloor {
			return fail(fmt.Errorf("-capacity is for arena and floor"))
		}
		trial := func(ctx context.Context, m int, name string) (*result.Result, error) {
			c := *cfg
			c.Matches = m
			res, err := once(ctx, &c)
			if err != nil {
				return nil, err
			}
			res.Params.Trial = name
			emit(res)
			return res, nil
		}
		res, err := loadgen.Capacity(ctx, cfg, trial)
		if err != nil {
			return fail(err)
		}
		emit(res)
		return 0
	}
	res, err := once(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	emit(res)
	if !res.Verdict.Pass {
		return 1
	}
	return 0
}

func fail(err error) int {
	stopCurrent()
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	return 2
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(2)
}
