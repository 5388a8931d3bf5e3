package app

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/procs"
)

// startProcs applies --gomaxprocs: "auto" (the default) runs the policy of server/procs (one P
// until the process needs more than ~¾ of a core, or its goroutines wait to run: measured
// cheaper, bench/RESULTS.md), a number
// fixes GOMAXPROCS. A GOMAXPROCS environment variable wins over both. It registers
// tickrelay_gomaxprocs_changes_total (GOMAXPROCS itself is go_sched_gomaxprocs_threads) and
// returns the stop function. With apply false it only registers the counter.
func startProcs(spec string, apply bool, srv *server.Server, log *slog.Logger) (func(), error) {
	var p *procs.Policy
	switch {
	case !apply: // a server inside a test process (Options.Procs unset, no --gomaxprocs)
	case os.Getenv("GOMAXPROCS") != "":
		log.Info("GOMAXPROCS is set in the environment: --gomaxprocs is not applied", "gomaxprocs", runtime.GOMAXPROCS(0))
	case spec == "auto" || spec == "":
		p = procs.Start(procs.Config{})
	default:
		n, err := strconv.Atoi(spec)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--gomaxprocs %q: give auto or a number ≥ 1", spec)
		}
		runtime.GOMAXPROCS(n)
	}
	changes := func() float64 {
		if p == nil {
			return 0
		}
		return float64(p.Changes())
	}
	c := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tickrelay_gomaxprocs_changes_total",
		Help: "Times --gomaxprocs auto changed GOMAXPROCS (now: go_sched_gomaxprocs_threads)."}, changes)
	if err := srv.Metrics().Register(c); err != nil {
		if p != nil {
			p.Stop()
		}
		return nil, err
	}
	return func() {
		if p != nil {
			p.Stop()
		}
	}, nil
}
