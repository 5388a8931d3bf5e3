package loadgen

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickrelay/tickrelay/bench/internal/procstat"
	"github.com/tickrelay/tickrelay/bench/internal/result"
)

// IdleMatchArgs is what idle-matches adds to the default tickrelay arguments: seat reservations
// that expire at once and matches that nobody joins kept for an hour, so the window measures
// empty matches (no member, no live reservation) and nothing else.
const IdleMatchArgs = " --reservation-ttl 1s --unused-match-timeout 1h"

// RunIdleMatches runs idle-matches: M matches created over HTTP (one guest each) and never
// joined, then, after the warm-up, a window in which the server does nothing but hold them. It
// reports the server's CPU and context switches in that window (the idle cost of a match) and
// checks at the end that every match still exists.
func RunIdleMatches(ctx context.Context, cfg *Config, srv *Server) (*result.Result, error) {
	r := newRun(cfg)
	api := NewAPI(srv.Addr, cfg.SetupConcurrency)
	defer api.Close()
	ids := make([]string, cfg.Matches)
	var failed atomic.Int64
	sem := make(chan struct{}, cfg.SetupConcurrency)
	var wg sync.WaitGroup
	setupCtx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	for i := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			tok, err := api.Guest(setupCtx, "idle-"+strconv.Itoa(i))
			if err == nil {
				var c Created
				if c, err = api.CreateMatch(setupCtx, tok, cfg.Game, cfg.Players, nil); err == nil {
					ids[i] = c.ID
				}
			}
			if err != nil {
				failed.Add(1)
				r.countErr(errString(err))
			}
		}(i)
	}
	wg.Wait()
	cancel()
	if err := sleepCtx(ctx, cfg.Warmup); err != nil {
		return nil, err
	}
	pid := srv.PID
	procA, perr := procstat.Take(pid)
	start := time.Now()
	if err := sleepCtx(ctx, cfg.Duration); err != nil {
		return nil, err
	}
	procB, perr2 := procstat.Take(pid)
	secs := time.Since(start).Seconds()
	alive := 0
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, err := api.MatchPlayers(ctx, id); err == nil {
			alive++
		}
	}

	res := newResult(cfg, srv)
	res.WindowS = round(secs, 3)
	res.Failures.FailedSetup = int(failed.Load())
	res.Failures.Errors = r.errors()
	im := &result.IdleMatches{Created: cfg.Matches - int(failed.Load()), Alive: alive}
	res.IdleMatches = im
	if perr == nil && perr2 == nil && pid > 0 {
		u := procstat.Between(procA, procB)
		res.Server.CPUSeconds = round(u.Server, 3)
		res.Server.CPUCores = round(u.Server/secs, 4)
		res.Server.UserSeconds = round(u.ServerUser, 3)
		fillSched(&res.Server, u, secs, 0)
		res.Server.Threads = procB.Server.Threads
		if alive > 0 {
			im.CPUUsPerMatchS = round(u.Server*1e6/secs/float64(alive), 3)
		}
		res.Other = result.Proc{CPUSeconds: round(u.Other, 3), CPUCores: round(u.Other/secs, 3)}
		res.Loadgen = result.Proc{CPUSeconds: round(u.Self, 3), CPUCores: round(u.Self/secs, 3)}
		res.Noisy = res.Other.CPUCores > cfg.NoisyCores
	} else if pid == 0 {
		res.Server.Note = "server pid unknown (-server-pid): no server CPU"
	}
	if m, err := procstat.ReadMem(pid); err == nil && pid > 0 {
		res.Server.RSSEndMB = mb(m.RSSKB)
	}
	res.Verdict = result.Verdict{Pass: true, Reason: "every match created and still there"}
	if im.Created < cfg.Matches || alive < im.Created {
		res.Verdict = result.Verdict{Pass: false, Reason: fmt.Sprintf("%d of %d matches created, %d still there", im.Created, cfg.Matches, alive)}
	}
	return res, nil
}
