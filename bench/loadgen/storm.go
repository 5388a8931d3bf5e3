package loadgen

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickrelay/tickrelay/bench/internal/hist"
	"github.com/tickrelay/tickrelay/bench/internal/procstat"
	"github.com/tickrelay/tickrelay/bench/internal/result"
)

// RunStorm runs connect-storm: N connections, at most Batch in flight at a time, each
// authenticating (guest), opening /ws, reading WELCOME and joining a lobby match (game relay by
// default; lobbies of LobbySize players, created first); then all are held idle for Idle, then
// closed. It reports accepted connections per second, handshake and join times, failures, the
// server's RSS per idle connection and its goroutines before, during and after.
//
// Each lobby is created by a guest of its own that never joins, so it is created with
// max_players LobbySize+1: the creator's reserved seat (API.md) must not fill it.
func RunStorm(ctx context.Context, cfg *Config, srv *Server) (*result.Result, error) {
	r := newRun(cfg)
	r.winStart.Store(0) // everything counts
	api := NewAPI(srv.Addr, cfg.Batch)
	defer api.Close()
	pid := srv.PID

	gBefore, haveG := Gauge(api.Metrics(ctx), "go_goroutines")
	memBefore, _ := procstat.ReadMem(pid)
	procA, perr := procstat.Take(pid)

	nLobbies := (cfg.Connections + cfg.LobbySize - 1) / cfg.LobbySize
	lobbies := make([]string, nLobbies)
	for i := range lobbies {
		tok, err := api.Guest(ctx, "storm-owner-"+strconv.Itoa(i))
		if err != nil {
			return nil, fmt.Errorf("lobby %d: %w", i, err)
		}
		c, err := api.CreateMatch(ctx, tok, cfg.Game, cfg.LobbySize+1, map[string]string{"name": "lobby"})
		if err != nil {
			return nil, fmt.Errorf("lobby %d: %w", i, err)
		}
		lobbies[i] = c.ID
	}

	clients := make([]*client, cfg.Connections)
	ms := []*matchState{{clients: clients}}
	for i := range clients {
		clients[i] = &client{r: r, id: i, match: ms[0], role: roleCount}
	}
	hs, jn := hist.NewSharded(16), hist.NewSharded(16)
	var failures atomic.Int64
	sem := make(chan struct{}, cfg.Batch)
	var wg sync.WaitGroup
	openCtx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	start := time.Now()
	for i, c := range clients {
		if openCtx.Err() != nil {
			failures.Add(int64(len(clients) - i))
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int, c *client) {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			tok, err := api.Guest(openCtx, "storm-"+strconv.Itoa(i))
			if err == nil {
				var d time.Duration
				if d, err = c.dial(openCtx, srv.Addr, tok, 10*time.Second); err == nil {
					hs.Record(i, d)
					err = c.join(openCtx, lobbies[i/cfg.LobbySize], "", 10*time.Second)
				}
			}
			if err != nil {
				failures.Add(1)
				r.countErr(errKind(err))
				c.close()
				return
			}
			jn.Record(i, time.Since(t0))
		}(i, c)
	}
	wg.Wait()
	cancel()
	openS := time.Since(start).Seconds()
	api.Close() // the auth calls' keep-alive connections would count as server goroutines and RSS
	connected := 0
	for _, c := range clients {
		if c.joined.Load() {
			connected++
		}
	}
	if cfg.Verbose {
		fmt.Fprintf(os.Stderr, "loadgen: %d/%d connected in %.1fs; idle %v\n", connected, len(clients), openS, cfg.Idle)
	}

	// idle: sample the server's RSS; read goroutines half way; the CPU of the idle phase alone
	// is the idle cost of holding the connections
	procIdle, perrIdle := procstat.Take(pid)
	idleStart := time.Now()
	var peakKB int64
	idleEnd := time.Now().Add(cfg.Idle)
	half := time.Now().Add(cfg.Idle / 2)
	var gDuring float64
	tookDuring := false
	for time.Now().Before(idleEnd) && ctx.Err() == nil {
		if m, err := procstat.ReadMem(pid); err == nil && m.RSSKB > peakKB {
			peakKB = m.RSSKB
		}
		if !tookDuring && time.Now().After(half) {
			gDuring, _ = Gauge(api.Metrics(ctx), "go_goroutines")
			tookDuring = true
		}
		_ = sleepCtx(ctx, 200*time.Millisecond)
	}
	memIdle, merr := procstat.ReadMem(pid)
	procB, perr2 := procstat.Take(pid)
	idleS := time.Since(idleStart).Seconds()
	if ctx.Err() != nil {
		closeAll(ms)
		return nil, ctx.Err()
	}

	closeStart := time.Now()
	closeAll(ms)
	closeS := time.Since(closeStart).Seconds()
	api.Close()
	_ = sleepCtx(ctx, 2*time.Second) // let the server notice and clean up
	memAfter, _ := procstat.ReadMem(pid)
	gAfter, _ := Gauge(api.Metrics(ctx), "go_goroutines")

	res := newResult(cfg, srv)
	res.Clients = connected
	span := closeStart.Sub(start).Seconds() // open + idle: the span the CPU figures cover
	st := &result.Storm{
		Target:       cfg.Connections,
		Connected:    connected,
		Failures:     int(failures.Load()),
		OpenSeconds:  round(openS, 3),
		Handshake:    hist.Summarize(hs.Merged()),
		Join:         hist.Summarize(jn.Merged()),
		RSSBeforeMB:  mb(memBefore.RSSKB),
		RSSIdleMB:    mb(memIdle.RSSKB),
		RSSAfterMB:   mb(memAfter.RSSKB),
		CloseSeconds: round(closeS, 3),
	}
	if openS > 0 {
		st.AcceptedPerSec = round(float64(connected)/openS, 1)
	}
	if connected > 0 && merr == nil && pid > 0 {
		st.RSSPerConnKB = round(float64(memIdle.RSSKB-memBefore.RSSKB)/float64(connected), 2)
	}
	if haveG {
		st.Goroutines = &[3]int64{int64(gBefore), int64(gDuring), int64(gAfter)}
	}
	if perrIdle == nil && perr2 == nil && pid > 0 && idleS > 0 {
		ui := procstat.Between(procIdle, procB)
		st.IdleCPUCores = round(ui.Server/idleS, 4)
		if connected > 0 {
			st.IdleCPUUsPerConnS = round(ui.Server*1e6/idleS/float64(connected), 3)
		}
		if ui.HaveSched {
			st.IdleCtxPerSec = round(float64(ui.CtxVoluntary+ui.CtxInvoluntary)/idleS, 1)
		}
	}
	res.Storm = st
	res.WindowS = round(span, 3)
	if perr == nil && perr2 == nil {
		u := procstat.Between(procA, procB)
		if pid > 0 {
			res.Server.CPUSeconds = round(u.Server, 3)
			if span > 0 {
				res.Server.CPUCores = round(u.Server/span, 3)
			}
			res.Server.RSSEndMB = mb(memIdle.RSSKB)
			res.Server.RSSPeakMB = mb(max(peakKB, memIdle.RSSKB))
			res.Server.HWMMB = mb(memIdle.HWMKB)
			res.Server.Threads = procB.Server.Threads
			fillSched(&res.Server, u, span, 0)
		}
		if span > 0 {
			res.Loadgen = result.Proc{CPUSeconds: round(u.Self, 3), CPUCores: round(u.Self/span, 3)}
			res.Other = result.Proc{CPUSeconds: round(u.Other, 3), CPUCores: round(u.Other/span, 3)}
			res.Kernel = result.Proc{CPUSeconds: round(u.Kernel, 3), CPUCores: round(u.Kernel/span, 3)}
		}
		res.Noisy = res.Other.CPUCores > cfg.NoisyCores
	} else if pid == 0 {
		res.Server.Note = "server pid unknown (-server-pid): no server CPU or memory"
	}
	if haveG {
		res.Server.Goroutines = int64(gDuring)
	}
	res.Failures.FailedSetup = st.Failures
	res.Failures.Dropped = int(r.drops.Load())
	res.Failures.Errors = r.errors()
	res.Verdict = StormVerdict(res)
	return res, nil
}

// StormVerdict: every connection opened and joined, and none dropped while idle.
func StormVerdict(res *result.Result) result.Verdict {
	var why []string
	if res.Storm == nil || res.Storm.Connected == 0 {
		why = append(why, "no connection")
	} else if res.Storm.Failures > 0 {
		why = append(why, fmt.Sprintf("%d of %d connections failed", res.Storm.Failures, res.Storm.Target))
	}
	if res.Failures.Dropped > 0 {
		why = append(why, fmt.Sprintf("%d dropped while idle", res.Failures.Dropped))
	}
	if len(why) == 0 {
		return result.Verdict{Pass: true, Reason: "all connected and joined, none dropped"}
	}
	return result.Verdict{Pass: false, Reason: joinReasons(why)}
}
