package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/tickrelay/tickrelay/bench/internal/hist"
	"github.com/tickrelay/tickrelay/bench/internal/procstat"
	"github.com/tickrelay/tickrelay/bench/internal/result"
)

// run is the state one measured run shares between its clients.
type run struct {
	cfg  *Config
	base time.Time

	winStart, winEnd atomic.Int64 // ns since base; MaxInt64 until set

	lat    *hist.Sharded // input → ack
	spread *hist.Sharded // fanout: receipt after the tick's first receipt
	slots  [256]spreadSlot

	gaps  atomic.Int64
	drops atomic.Int64

	errMu sync.Mutex
	errs  map[string]int
}

type spreadSlot struct {
	mu    sync.Mutex
	tick  uint32
	first int64
	valid bool
}

func newRun(cfg *Config) *run {
	r := &run{cfg: cfg, base: time.Now(), lat: hist.NewSharded(16), spread: hist.NewSharded(16), errs: map[string]int{}}
	r.winStart.Store(math.MaxInt64)
	r.winEnd.Store(math.MaxInt64)
	return r
}

func (r *run) now() int64 { return int64(time.Since(r.base)) }

func (r *run) inWindow(ts int64) bool { return ts >= r.winStart.Load() && ts < r.winEnd.Load() }

func (r *run) countErr(what string) {
	r.errMu.Lock()
	if len(r.errs) < 50 || r.errs[what] > 0 {
		r.errs[what]++
	} else {
		r.errs["(other errors)"]++
	}
	r.errMu.Unlock()
}

func (r *run) errors() map[string]int {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if len(r.errs) == 0 {
		return nil
	}
	out := make(map[string]int, len(r.errs))
	for k, v := range r.errs {
		out[k] = v
	}
	return out
}

func (r *run) dropped(c *client, err error) {
	r.drops.Add(1)
	r.countErr("dropped: " + closeReason(err))
}

func closeReason(err error) string {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		return "close " + strconv.Itoa(int(ce.Code))
	}
	if err == nil {
		return "closed"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// spreadSeen records how long after the first receipt of tick this receipt came (fanout).
func (r *run) spreadSeen(id int, tick uint32, now int64) {
	sl := &r.slots[tick%uint32(len(r.slots))]
	sl.mu.Lock()
	if !sl.valid || sl.tick != tick {
		sl.tick, sl.first, sl.valid = tick, now, true
	}
	d := now - sl.first
	sl.mu.Unlock()
	if d < 0 {
		d = 0
	}
	if r.inWindow(now) {
		r.spread.Record(id, time.Duration(d))
	}
}

// matchState is one match of the run and its clients.
type matchState struct {
	id      string
	ticket  string
	clients []*client
}

// setupStats counts what failed while setting up.
type setupStats struct {
	failedSetup, failedJoins, joinCheckFailed atomic.Int64
	handshake, join                           *hist.Sharded
}

// plan describes the clients of each match.
type plan struct {
	matches, players int
	game             string
	roleOf           func(i int) role // i: index in the match
	sendsOf          func(i int) bool
	raw              bool // epoll clients (served by pools after setup) instead of gws
}

// setupAll authenticates, creates the matches, connects and joins every client. Clients that
// fail are closed and left out; the failures are counted in st.
func (r *run) setupAll(ctx context.Context, api *API, addr string, p plan, st *setupStats) []*matchState {
	ms := make([]*matchState, p.matches)
	sem := make(chan struct{}, r.cfg.SetupConcurrency)
	msem := make(chan struct{}, max(1, r.cfg.SetupConcurrency/4))
	var wg sync.WaitGroup
	id := 0
	for m := range ms {
		mst := &matchState{clients: make([]*client, p.players)}
		for i := range mst.clients {
			mst.clients[i] = &client{r: r, id: id, match: mst, role: p.roleOf(i), sends: p.sendsOf(i), raw: p.raw}
			id++
		}
		ms[m] = mst
	}
	for m := range ms {
		wg.Add(1)
		msem <- struct{}{}
		go func(mst *matchState) {
			defer wg.Done()
			defer func() { <-msem }()
			r.setupMatch(ctx, api, addr, p, mst, sem, st)
		}(ms[m])
	}
	wg.Wait()
	return ms
}

func (r *run) setupMatch(ctx context.Context, api *API, addr string, p plan, ms *matchState, sem chan struct{}, st *setupStats) {
	timeout := 10 * time.Second
	tokens := make([]string, len(ms.clients))
	var wg sync.WaitGroup
	for i, c := range ms.clients {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, c *client) {
			defer wg.Done()
			defer func() { <-sem }()
			tok, err := api.Guest(ctx, "lg-"+strconv.Itoa(c.id))
			if err != nil {
				r.countErr(errKind(err))
				return
			}
			tokens[i] = tok
		}(i, c)
	}
	wg.Wait()
	creator := -1
	for i, t := range tokens {
		if t != "" {
			creator = i
			break
		}
	}
	if creator < 0 {
		st.failedSetup.Add(int64(len(ms.clients)))
		return
	}
	created, err := api.CreateMatch(ctx, tokens[creator], p.game, p.players, nil)
	if err != nil {
		r.countErr(errKind(err))
		st.failedSetup.Add(int64(len(ms.clients)))
		return
	}
	ms.id, ms.ticket = created.ID, created.Ticket
	for i, c := range ms.clients {
		if tokens[i] == "" {
			st.failedSetup.Add(1)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, c *client) {
			defer wg.Done()
			defer func() { <-sem }()
			start := time.Now()
			hs, err := c.dial(ctx, addr, tokens[i], timeout)
			if err != nil {
				r.countErr(errKind(err))
				st.failedSetup.Add(1)
				c.close()
				return
			}
			ticket := ""
			if i == creator {
				ticket = ms.ticket // the creator's seat is reserved: claim it with the ticket
			}
			if err := c.join(ctx, ms.id, ticket, timeout); err != nil {
				r.countErr(errKind(err))
				st.failedJoins.Add(1)
				c.close()
				return
			}
			if st.handshake != nil {
				st.handshake.Record(c.id, hs)
				st.join.Record(c.id, time.Since(start))
			}
		}(i, c)
	}
	wg.Wait()
}

// errKind shortens an error to a countable reason.
func errKind(err error) string {
	s := err.Error()
	if len(s) > 90 {
		s = s[:90]
	}
	return s
}

// checkMatches verifies that every match has exactly its players: each client's JOINED, the
// largest members count in a JOINED, and the HTTP API's player count when it answers.
func checkMatches(ctx context.Context, api *API, ms []*matchState, want int) (bad int, joined int) {
	for _, m := range ms {
		n, maxMembers := 0, 0
		for _, c := range m.clients {
			if c.joined.Load() {
				n++
				maxMembers = max(maxMembers, c.members)
			}
		}
		joined += n
		ok := n == want && maxMembers == want
		if ok && m.id != "" {
			if players, err := api.MatchPlayers(ctx, m.id); err == nil && players != want {
				ok = false
			}
		}
		if !ok {
			bad++
		}
	}
	return bad, joined
}

// counters is the sum of every client's counters at one moment.
type counters struct {
	msgsIn, bytesIn, wireIn, msgsOut, bytesOut, late, skipped int64
}

func sumCounters(ms []*matchState, senders []*sender) counters {
	var c counters
	for _, m := range ms {
		for _, cl := range m.clients {
			c.msgsIn += cl.msgsIn.Load()
			c.bytesIn += cl.bytesIn.Load()
			c.wireIn += cl.wireIn.Load()
			c.msgsOut += cl.msgsOut.Load()
			c.bytesOut += cl.bytesOut.Load()
		}
	}
	for _, s := range senders {
		c.late += s.late.Load()
		c.skipped += s.skipped.Load()
	}
	return c
}

// window is what was read at the start and end of the measured window.
type window struct {
	start, end     time.Time
	procA, procB   procstat.Snapshot
	procErr        error
	cA, cB         counters
	metA, metB     []byte
	rssPeakKB      int64
	memEnd         procstat.Mem
	memErr         error
	threads        int64
	goroutinesNow  float64
	haveGoroutines bool
	syscalls       *result.Syscalls // -syscalls
}

// measure runs the warm-up and the window, sampling the server's RSS during the window.
func (r *run) measure(ctx context.Context, api *API, pid int, ms []*matchState, senders []*sender) (*window, error) {
	return r.measureWith(ctx, api, pid, func() counters { return sumCounters(ms, senders) })
}

// measureWith is measure with the clients' counters read by count, right after the server's
// /proc reading at either end of the window (the Colyseus run's clients are another process).
func (r *run) measureWith(ctx context.Context, api *API, pid int, count func() counters) (*window, error) {
	if err := sleepCtx(ctx, r.cfg.Warmup); err != nil {
		return nil, err
	}
	w := &window{}
	w.metA = api.Metrics(ctx)
	var sys *syscallCounter
	if r.cfg.Syscalls {
		var err error
		if sys, err = startSyscalls(ctx, pid, r.cfg.Duration); err != nil {
			w.syscalls = &result.Syscalls{Err: err.Error()}
		}
	}
	w.procA, w.procErr = procstat.Take(pid)
	w.cA = count()
	w.start = time.Now()
	r.winStart.Store(int64(w.start.Sub(r.base)))

	stopSampling := make(chan struct{})
	sampled := make(chan int64)
	go func() {
		var peak int64
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if pid > 0 {
				if m, err := procstat.ReadMem(pid); err == nil && m.RSSKB > peak {
					peak = m.RSSKB
				}
			}
			select {
			case <-stopSampling:
				sampled <- peak
				return
			case <-t.C:
			}
		}
	}()
	err := sleepCtx(ctx, r.cfg.Duration)
	end := time.Now()
	r.winEnd.Store(int64(end.Sub(r.base)))
	// the counters first: reading /proc for every process can take tens of milliseconds on a
	// busy machine, and the rates divide by end - start
	w.cB = count()
	var procB procstat.Snapshot
	var perr error
	procB, perr = procstat.Take(pid)
	w.end = end
	close(stopSampling)
	w.rssPeakKB = <-sampled
	if sys != nil {
		w.syscalls = sys.finish(5 * time.Second)
	}
	if err != nil {
		return nil, err
	}
	w.procB = procB
	if perr != nil && w.procErr == nil {
		w.procErr = perr
	}
	if pid > 0 {
		w.memEnd, w.memErr = procstat.ReadMem(pid)
		w.rssPeakKB = max(w.rssPeakKB, w.memEnd.RSSKB)
		w.threads = procB.Server.Threads
	}
	w.metB = api.Metrics(ctx)
	w.goroutinesNow, w.haveGoroutines = Gauge(w.metB, "go_goroutines")
	return w, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain waits up to cfg.Drain for the acks of inputs sent in the window, then finalizes every
// measuring client (unacked inputs become lower bounds). It returns inputs in the window and
// unacked ones.
func (r *run) drain(ctx context.Context, ms []*matchState) (inWindow, unacked int64) {
	deadline := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		pending := false
		for _, m := range ms {
			for _, c := range m.clients {
				if c.role == roleAck && c.sends && c.joined.Load() && c.pending() {
					pending = true
					break
				}
			}
			if pending {
				break
			}
		}
		if !pending {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	now, winEnd := r.now(), r.winEnd.Load()
	for _, m := range ms {
		for _, c := range m.clients {
			if c.role == roleAck && c.sends {
				inWindow += c.winSent.Load()
				unacked += c.finalize(now, winEnd)
			}
		}
	}
	return inWindow, unacked
}

func (c *client) pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ackedWin < c.winSent.Load()
}

// closeAll closes every client, in parallel batches so that thousands close quickly.
func closeAll(ms []*matchState) {
	var all []*client
	for _, m := range ms {
		all = append(all, m.clients...)
	}
	var wg sync.WaitGroup
	per := (len(all) + 7) / 8
	for i := 0; i < len(all); i += per {
		part := all[i:min(i+per, len(all))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range part {
				c.close()
			}
		}()
	}
	wg.Wait()
}

// RunLoad runs arena (or floor) or fanout once against srv and returns its result line.
func RunLoad(ctx context.Context, cfg *Config, srv *Server) (*result.Result, error) {
	r := newRun(cfg)
	api := NewAPI(srv.Addr, cfg.SetupConcurrency)
	defer api.Close()

	var p plan
	switch cfg.Scenario {
	case ScenarioFanout:
		p = plan{matches: 1, players: cfg.Spectators + 1, game: cfg.Game,
			roleOf: func(i int) role {
				if i == 0 {
					return roleAck
				}
				return roleSpread
			},
			sendsOf: func(i int) bool { return i == 0 }}
	default:
		p = plan{matches: cfg.Matches, players: cfg.Players, game: cfg.Game,
			roleOf: func(i int) role {
				if cfg.Probe && i > 0 {
					return roleCount
				}
				return roleAck
			},
			sendsOf: func(int) bool { return true }, raw: cfg.Client == ClientEpoll}
	}

	st := &setupStats{}
	setupCtx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	t0 := time.Now()
	ms := r.setupAll(setupCtx, api, srv.Addr, p, st)
	cancel()
	bad, joined := checkMatches(ctx, api, ms, p.players)
	st.joinCheckFailed.Store(int64(bad))
	if cfg.Verbose {
		fmt.Fprintf(os.Stderr, "loadgen: %d/%d clients joined in %v (%d matches short)\n", joined, p.matches*p.players, time.Since(t0).Round(time.Millisecond), bad)
	}
	defer closeAll(ms)
	if joined == 0 {
		return nil, fmt.Errorf("no client joined (errors: %v)", r.errors())
	}

	senders, measuring, stopSenders, err := r.startSenders(cfg, ms, p.raw)
	if err != nil {
		return nil, err
	}
	defer stopSenders()

	w, err := r.measure(ctx, api, srv.PID, ms, senders)
	if err != nil {
		return nil, err
	}
	inWin, unacked := r.drain(ctx, ms)
	stopSenders()

	res := r.buildResult(cfg, srv, w, st, joined, measuring)
	res.InputsInWindow, res.Unacked = inWin, unacked
	res.DeltaGaps = r.gaps.Load()
	lat := hist.Summarize(r.lat.Merged())
	res.Latency = &lat
	if cfg.Scenario == ScenarioFanout {
		sp := hist.Summarize(r.spread.Merged())
		res.Spread = &sp
	}
	res.Failures.Dropped = int(r.drops.Load())
	res.Failures.Errors = r.errors()
	res.Verdict = LoadVerdict(res)
	return res, nil
}

// buildResult fills the parts common to the load scenarios from the window's readings.
func (r *run) buildResult(cfg *Config, srv *Server, w *window, st *setupStats, clients, measuring int) *result.Result {
	res := newResult(cfg, srv)
	res.Clients, res.Measuring = clients, measuring
	secs := w.end.Sub(w.start).Seconds()
	res.WindowS = round(secs, 3)
	res.Failures.FailedSetup = int(st.failedSetup.Load())
	res.Failures.FailedJoins = int(st.failedJoins.Load())
	res.Failures.JoinCheckFailed = int(st.joinCheckFailed.Load())
	res.Failures.LateSends = w.cB.late - w.cA.late
	res.Failures.SkippedSends = w.cB.skipped - w.cA.skipped

	d := counters{
		msgsIn: w.cB.msgsIn - w.cA.msgsIn, bytesIn: w.cB.bytesIn - w.cA.bytesIn, wireIn: w.cB.wireIn - w.cA.wireIn,
		msgsOut: w.cB.msgsOut - w.cA.msgsOut, bytesOut: w.cB.bytesOut - w.cA.bytesOut,
	}
	res.Traffic = trafficFigures(d, secs, clients)

	if w.procErr != nil {
		res.Server.ReadErr = w.procErr.Error()
	}
	u := procstat.Between(w.procA, w.procB)
	res.Loadgen = result.Proc{CPUSeconds: round(u.Self, 3), CPUCores: round(u.Self/secs, 3)}
	if clients > 0 && secs > 0 {
		res.Loadgen.CPUMsPerClientSec = round(u.Self*1000/(float64(clients)*secs), 4)
	}
	if m := d.msgsIn + d.msgsOut; m > 0 {
		res.Loadgen.CPUUsPerMsg = round(u.Self*1e6/float64(m), 3)
	}
	res.Other = result.Proc{CPUSeconds: round(u.Other, 3), CPUCores: round(u.Other/secs, 3)}
	res.Kernel = result.Proc{CPUSeconds: round(u.Kernel, 3), CPUCores: round(u.Kernel/secs, 3)}
	if w.procA.HaveSrv && w.procB.HaveSrv {
		res.Server.CPUSeconds = round(u.Server, 3)
		res.Server.CPUCores = round(u.Server/secs, 3)
		if clients > 0 {
			res.Server.CPUMsPerClientSec = round(u.Server*1000/(float64(clients)*secs), 4)
		}
		res.Server.UserSeconds = round(u.ServerUser, 3)
		if d.msgsIn > 0 {
			res.Server.CPUUsPerMsg = round(u.Server*1e6/float64(d.msgsIn), 3)
			res.Server.UserUsPerMsg = round(u.ServerUser*1e6/float64(d.msgsIn), 3)
		}
		if d.bytesIn > 0 {
			res.Server.CPUMsPerMB = round(u.Server*1000/(float64(d.bytesIn)/1e6), 3)
		}
		res.Server.Syscalls = w.syscalls
		fillSched(&res.Server, u, secs, d.msgsIn+d.msgsOut)
		res.Server.Threads = w.threads
		res.Server.RSSEndMB = mb(w.memEnd.RSSKB)
		res.Server.RSSPeakMB = mb(w.rssPeakKB)
		res.Server.HWMMB = mb(w.memEnd.HWMKB)
	} else if srv.PID == 0 {
		res.Server.Note = "server pid unknown (-server-pid): no server CPU or memory"
	}
	if w.haveGoroutines {
		res.Server.Goroutines = int64(w.goroutinesNow)
	}
	if v, ok := Gauge(w.metB, "go_sched_gomaxprocs_threads"); ok {
		res.Server.Gomaxprocs = &v
	}
	if b, ok := Gauge(w.metB, "tickrelay_gomaxprocs_changes_total"); ok {
		a, _ := Gauge(w.metA, "tickrelay_gomaxprocs_changes_total")
		d := b - a
		res.Server.GomaxprocsChanges = &d
	}
	if q, n, ok := Quantile(HistogramBuckets(w.metA, cfg.TickMetric), HistogramBuckets(w.metB, cfg.TickMetric), 0.99); ok {
		v := round(q*1000, 3)
		res.Server.TickP99Ms = &v
		res.Server.TickSamples = n
	}
	res.Noisy = res.Other.CPUCores > cfg.NoisyCores
	return res
}

func trafficFigures(d counters, secs float64, clients int) result.Traffic {
	var t result.Traffic
	if secs <= 0 {
		return t
	}
	t.MsgsInPerSec = round(float64(d.msgsIn)/secs, 1)
	t.BytesInPerSec = round(float64(d.bytesIn)/secs, 1)
	t.MsgsOutPerSec = round(float64(d.msgsOut)/secs, 1)
	t.BytesOutPerSec = round(float64(d.bytesOut)/secs, 1)
	if d.msgsIn > 0 {
		t.AvgMsgIn = round(float64(d.bytesIn)/float64(d.msgsIn), 1)
	}
	if d.msgsOut > 0 {
		t.AvgMsgOut = round(float64(d.bytesOut)/float64(d.msgsOut), 1)
	}
	if clients > 0 {
		t.BytesInPerClientSec = round(float64(d.bytesIn)/secs/float64(clients), 1)
		t.WireBytesInPerClientSec = round(float64(d.wireIn)/secs/float64(clients), 1)
	}
	return t
}

// LoadVerdict is "p99 < 100 ms and no drops" (nor failed setups, joins or short matches, nor an
// empty histogram).
func LoadVerdict(res *result.Result) result.Verdict {
	var why []string
	if res.Latency == nil || res.Latency.Count == 0 {
		why = append(why, "no latency samples")
	} else if res.Latency.P99 >= 100 {
		why = append(why, fmt.Sprintf("p99 %.1f ms ≥ 100 ms", res.Latency.P99))
	}
	f := res.Failures
	if f.Dropped > 0 {
		why = append(why, fmt.Sprintf("%d dropped", f.Dropped))
	}
	if f.FailedSetup > 0 || f.FailedJoins > 0 {
		why = append(why, fmt.Sprintf("%d failed setups, %d failed joins", f.FailedSetup, f.FailedJoins))
	}
	if f.JoinCheckFailed > 0 {
		why = append(why, fmt.Sprintf("%d matches without exactly P players", f.JoinCheckFailed))
	}
	if len(why) == 0 {
		return result.Verdict{Pass: true, Reason: "p99 < 100 ms and no drops"}
	}
	return result.Verdict{Pass: false, Reason: joinReasons(why)}
}

func joinReasons(why []string) string {
	sort.Strings(why)
	s := ""
	for i, w := range why {
		if i > 0 {
			s += "; "
		}
		s += w
	}
	return s
}

// newResult fills what every result line has.
func newResult(cfg *Config, srv *Server) *result.Result {
	res := &result.Result{
		Schema:   result.Schema,
		Time:     time.Now().UTC().Format(time.RFC3339),
		Scenario: cfg.Scenario,
		Target:   cfg.Target,
		Label:    cfg.Label,
		Env:      result.NewEnv(cfg.RepoDir, runtime.NumCPU(), runtime.GOMAXPROCS(0), procstat.ClockTicks()),
	}
	res.Server.PID = srv.PID
	p := &res.Params
	p.Game = cfg.Game
	p.Probe = cfg.Probe
	p.Senders = cfg.Senders
	if cfg.Scenario == ScenarioArena || cfg.Scenario == ScenarioFloor {
		p.Client = cfg.Client
		if cfg.Client == ClientEpoll {
			p.Pools, p.Senders = cfg.Pools, 0
		}
	}
	p.WarmupS = cfg.Warmup.Seconds()
	p.DurationS = cfg.Duration.Seconds()
	p.DrainS = cfg.Drain.Seconds()
	p.InputHz = round(float64(time.Second)/float64(cfg.Interval), 3)
	if cfg.Target == TargetExternal {
		p.Addr = srv.Addr
	} else {
		p.ServerArgs, p.ServerEnv = cfg.ServerArgs, cfg.ServerEnv
	}
	switch cfg.Scenario {
	case ScenarioFanout:
		p.Matches, p.Players, p.Spectators = 1, 1, cfg.Spectators
	case ScenarioStorm:
		p.Connections, p.Batch, p.IdleS, p.Players = cfg.Connections, cfg.Batch, cfg.Idle.Seconds(), cfg.LobbySize
		p.InputHz, p.WarmupS, p.DurationS, p.DrainS = 0, 0, 0, 0
	default:
		p.Matches, p.Players = cfg.Matches, cfg.Players
	}
	return res
}

func round(v float64, digits int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func mb(kb int64) float64 { return round(float64(kb)/1024, 1) }
