package loadgen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tickrelay/tickrelay/bench/internal/hist"
	"github.com/tickrelay/tickrelay/bench/internal/procstat"
	"github.com/tickrelay/tickrelay/bench/internal/result"
)

// The Colyseus target (-target colyseus): the arena workload served by Colyseus 0.16 on Node
// (bench/colyseus/server.mjs) and driven by Colyseus' own SDK clients (bench/colyseus/loadgen.mjs,
// a separate Node process), measured by this package exactly as an arena run: the same window,
// the same /proc readings of the server (CPU, user/system, context switches of all its threads,
// read/write calls), the same counters (messages = frames the clients received + inputs they
// sent), the same latency histogram and verdict. The clients' counters and latency samples come
// from the Node process over its stdin/stdout (colyseus_proto.go); its CPU is the load
// generator's, not "other processes'".

// ColyseusDir is the Node project, relative to the repository root.
const ColyseusDir = "bench/colyseus"

// ColyseusTickMetric is server.mjs's tick-duration histogram on /metrics.
const ColyseusTickMetric = "colyseus_tick_duration_seconds"

// ColyseusServer returns the node binary and the server's argument template, after checking that
// the Node project's packages are installed (bench/colyseus/run.sh or npm ci installs them).
func ColyseusServer(repo string) (bin, args string, err error) {
	dir := filepath.Join(repo, ColyseusDir)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@colyseus", "core", "package.json")); err != nil {
		return "", "", fmt.Errorf("%s: packages not installed (run: cd %s && npm ci --no-audit --no-fund): %w", dir, dir, err)
	}
	bin, err = exec.LookPath("node")
	if err != nil {
		return "", "", fmt.Errorf("the colyseus target needs node (Node 20): %w", err)
	}
	return bin, filepath.Join(dir, "server.mjs") + " --listen {addr} --max-runtime {maxrt}", nil
}

// RunColyseus runs arena once against a started Colyseus server.
func RunColyseus(ctx context.Context, cfg *Config, srv *Server) (*result.Result, error) {
	if cfg.Scenario != ScenarioArena {
		return nil, fmt.Errorf("-target colyseus serves -scenario arena only")
	}
	node, _, err := ColyseusServer(cfg.RepoDir)
	if err != nil {
		return nil, err
	}
	r := newRun(cfg)
	api := NewAPI(srv.Addr, 1)
	defer api.Close()

	lg, err := startColyseusGroup(cfg, node, srv.Addr)
	if err != nil {
		return nil, err
	}
	defer lg.stop()
	setup, err := lg.setup(cfg.SetupTimeout)
	if err != nil {
		return nil, err
	}
	st := &setupStats{}
	st.failedSetup.Store(int64(setup.FailedSetup))
	st.failedJoins.Store(int64(setup.FailedJoins))
	st.joinCheckFailed.Store(int64(setup.JoinCheckFailed))
	r.addErrors(setup.Errors)
	if cfg.Verbose {
		fmt.Fprintf(os.Stderr, "loadgen: %d/%d colyseus.js clients joined in %d ms (%d rooms short); node pids %v\n",
			setup.Joined, setup.Clients, setup.SetupMS, setup.JoinCheckFailed, lg.pids())
	}
	if setup.Joined == 0 {
		return nil, fmt.Errorf("no colyseus.js client joined (errors: %v)", setup.Errors)
	}

	// the window's two readings: the clients' counters and the Node load generator's CPU, right
	// after the server's /proc reading (measureWith)
	var lgCPU [2]procstat.ProcCPU
	var marks [2]colyseusMark
	var checkMet [2][]byte // -check: the server's /metrics right after each mark
	var markErr error
	n := 0
	count := func() counters {
		i := min(n, 1)
		n++
		m, err := lg.mark(i == 1, 10*time.Second)
		if err != nil && markErr == nil {
			markErr = err
		}
		if p, err := lg.cpu(); err == nil {
			lgCPU[i] = p
		} else if markErr == nil {
			markErr = err
		}
		marks[i] = m
		if cfg.Check {
			checkMet[i] = api.Metrics(ctx)
		}
		return m.counters()
	}
	w, err := r.measureWith(ctx, api, srv.PID, count)
	if err != nil {
		return nil, err
	}
	if markErr != nil {
		return nil, markErr
	}
	chargeLoadgen(&w.procA, lgCPU[0])
	chargeLoadgen(&w.procB, lgCPU[1])

	final, err := lg.drain(cfg.Drain, cfg.Drain+30*time.Second)
	if err != nil {
		return nil, err
	}
	r.addErrors(final.Errors)
	for i, ns := range final.LatNS {
		r.lat.Record(i, time.Duration(ns))
	}

	res := r.buildResult(cfg, srv, w, st, setup.Joined, setup.Measuring)
	res.Params.Client, res.Params.Pools, res.Params.Senders = "colyseus.js", 0, 0
	res.InputsInWindow, res.Unacked = final.InputsInWindow, final.Unacked
	lat := hist.Summarize(r.lat.Merged())
	res.Latency = &lat
	res.Failures.Dropped = final.Dropped
	res.Failures.Errors = r.errors()
	res.Server.Note = colyseusNote(setup, lg.pids())
	res.Verdict = LoadVerdict(res)
	if cfg.Check {
		res.Check = CheckColyseus(res, marks, checkMet[0], checkMet[1])
		if !res.Check.Pass {
			res.Verdict.Pass = false
			res.Verdict.Reason = "self-check failed; " + res.Verdict.Reason
		}
	}
	return res, nil
}

// chargeLoadgen moves the Node load generator's CPU time from "other processes" (ReadOthers
// counts every process but the server and this one) to this process, the load generator.
func chargeLoadgen(s *procstat.Snapshot, lg procstat.ProcCPU) {
	s.Self.UTime += lg.UTime
	s.Self.STime += lg.STime
	s.Others.User -= lg.Total() + lg.CUTime + lg.CSTime
}

func colyseusNote(s colyseusSetup, pids []int) string {
	var v []string
	for _, k := range []string{"@colyseus/core", "@colyseus/ws-transport", "@colyseus/schema", "colyseus.js"} {
		v = append(v, k+" "+s.Versions[k])
	}
	return fmt.Sprintf("Colyseus on Node %s (%s); clients: colyseus.js in %d node process(es) %v, their CPU counted as the load generator's",
		s.Node, strings.Join(v, ", "), len(pids), pids)
}

// addErrors merges the Node side's error counts into the run's.
func (r *run) addErrors(m map[string]int) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	for k, v := range m {
		r.errs[k] += v
	}
}

var errColyseusExited = errors.New("the colyseus load generator exited")
