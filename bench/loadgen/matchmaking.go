package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickrelay/tickrelay/bench/internal/hist"
	"github.com/tickrelay/tickrelay/bench/internal/procstat"
	"github.com/tickrelay/tickrelay/bench/internal/result"
)

// mmRegions are the regions tickets ask for (the server's default neighbours).
var mmRegions = []string{"eu", "na", "sa", "me", "as", "oc"}

type mmTicket struct {
	queue  string
	skill  float64
	region string
	token  string

	status   string
	match    string
	node     string
	serverMS int64         // created → matched, by the server's clock (waited_ms)
	observed time.Duration // POST sent → the GET that saw the outcome answered
}

// RunMatchmaking runs the matchmaking workload: Tickets guests (tokens fetched first, outside
// the measurement) open one ticket each at Rate per second, a DuelShare of them in the duel
// queue and the rest in arena, with skill ~ N(1500, 300) and a uniformly random region; each
// follows its ticket by long-poll (GET ?wait=25s) until it has an outcome. Players do not join
// the matches they are given (their seats lapse): this measures the matchmaker, placement and
// reservation, not the games. It reports time-to-match per queue (the server's waited_ms and
// what the client saw), the skill spread within matches, where the matches were placed, and
// tickets per second per server core (tickets over the server's CPU seconds from the first
// ticket to the last outcome).
func RunMatchmaking(ctx context.Context, cfg *Config, srv *Server) (*result.Result, error) {
	return runMatchmaking(ctx, cfg, []*Server{srv})
}

// RunMatchmakingCluster is RunMatchmaking over cfg.MMInstances instances sharing a redis-server
// (their queues in Redis, one matcher per queue, matches on the least loaded instance):
// ticket i is opened on instance i mod n, and the placement spread says where matches ran.
func RunMatchmakingCluster(ctx context.Context, cfg *Config, bin string, maxRuntime time.Duration) (*result.Result, error) {
	c := *cfg
	c.Instances = cfg.MMInstances
	rig, err := startCluster(ctx, &c, bin, maxRuntime)
	if err != nil {
		return nil, err
	}
	defer rig.stop()
	return runMatchmaking(ctx, cfg, rig.inst)
}

func runMatchmaking(ctx context.Context, cfg *Config, srvs []*Server) (*result.Result, error) {
	srv := srvs[0]
	r := newRun(cfg)
	api := NewAPI(srv.Addr, cfg.SetupConcurrency)
	defer api.Close()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	ts := make([]*mmTicket, cfg.Tickets)
	for i := range ts {
		q := "arena"
		if rng.Float64() < cfg.DuelShare {
			q = "duel"
		}
		ts[i] = &mmTicket{queue: q, skill: math.Round(math.Max(0, 1500+rng.NormFloat64()*300)), region: mmRegions[rng.IntN(len(mmRegions))]}
	}
	// Tokens first (not measured).
	sem := make(chan struct{}, cfg.SetupConcurrency)
	var wg sync.WaitGroup
	var tokErr atomic.Value
	for i, t := range ts {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			tok, err := api.Guest(ctx, "mm-"+strconv.Itoa(i))
			if err != nil {
				tokErr.Store(err)
				return
			}
			t.token = tok
		}()
	}
	wg.Wait()
	if err, _ := tokErr.Load().(error); err != nil {
		return nil, fmt.Errorf("guest tokens: %w", err)
	}
	if cfg.Verbose {
		fmt.Fprintf(os.Stderr, "loadgen: %d guests; tickets at %.0f/s\n", len(ts), cfg.Rate)
	}
	// Long-polls are many at once: a pool of its own.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 8192, MaxIdleConnsPerHost: 8192, IdleConnTimeout: 30 * time.Second},
		Timeout: 40 * time.Second}
	defer hc.CloseIdleConnections()
	bases := make([]string, len(srvs))
	cpuA := make([]int64, len(srvs))
	for i, s := range srvs {
		bases[i] = "http://" + s.Addr
		if p, err := procstat.ReadProc(s.PID); err == nil {
			cpuA[i] = p.Total()
		}
	}

	procA, perr := procstat.Take(srv.PID)
	start := time.Now()
	var failed atomic.Int64
	for i, t := range ts {
		at := start.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
		if d := time.Until(at); d > 0 {
			if sleepCtx(ctx, d) != nil {
				break
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := followTicket(ctx, hc, bases[i%len(bases)], t); err != nil {
				failed.Add(1)
				r.countErr(errKind(err))
			}
		}()
	}
	arrivalS := time.Since(start).Seconds()
	wg.Wait()
	spanS := time.Since(start).Seconds()
	var metrics [][]byte // every instance's /metrics, for the phases
	for _, s := range srvs {
		a := NewAPI(s.Addr, 1)
		metrics = append(metrics, a.Metrics(ctx))
		a.Close()
	}
	procB, perr2 := procstat.Take(srv.PID)
	var others float64 // the CPU of the instances after the first (also in u.Other)
	for i, s := range srvs[1:] {
		if p, err := procstat.ReadProc(s.PID); err == nil {
			others += procstat.Seconds(p.Total() - cpuA[i+1])
		}
	}

	res := newResult(cfg, srv)
	res.Params.Tickets, res.Params.Rate = cfg.Tickets, cfg.Rate
	mm := &result.Matchmaking{Instances: len(srvs), Tickets: len(ts), ArrivalS: round(arrivalS, 3), Outcomes: map[string]map[string]int{},
		Queues: map[string]*result.MMQueue{}, Placement: map[string]int{}, Failed: int(failed.Load())}
	type agg struct {
		server, observed *hist.Sharded
		matches          map[string][]float64
	}
	aggs := map[string]*agg{}
	for i, t := range ts {
		if mm.Outcomes[t.queue] == nil {
			mm.Outcomes[t.queue] = map[string]int{}
		}
		mm.Outcomes[t.queue][orUnknown(t.status)]++
		a := aggs[t.queue]
		if a == nil {
			a = &agg{server: hist.NewSharded(1), observed: hist.NewSharded(1), matches: map[string][]float64{}}
			aggs[t.queue] = a
		}
		if t.status != "matched" {
			continue
		}
		a.server.Record(i, time.Duration(t.serverMS)*time.Millisecond)
		a.observed.Record(i, t.observed)
		if _, seen := a.matches[t.match]; !seen {
			mm.Placement[orUnknown(t.node)]++
		}
		a.matches[t.match] = append(a.matches[t.match], t.skill)
	}
	for q, a := range aggs {
		var spreads []float64
		for _, skills := range a.matches {
			lo, hi := skills[0], skills[0]
			for _, s := range skills {
				lo, hi = math.Min(lo, s), math.Max(hi, s)
			}
			spreads = append(spreads, hi-lo)
		}
		sort.Float64s(spreads)
		qs := &result.MMQueue{Matches: len(a.matches), TimeToMatch: hist.Summarize(a.server.Merged()),
			Observed: hist.Summarize(a.observed.Merged())}
		if n := len(spreads); n > 0 {
			var sum float64
			for _, s := range spreads {
				sum += s
			}
			qs.SpreadMean, qs.SpreadP50, qs.SpreadP99, qs.SpreadMax = round(sum/float64(n), 1), spreads[n/2], spreads[min(n-1, n*99/100)], spreads[n-1]
			qs.PlayersPerMatch = round(float64(mm.Outcomes[q]["matched"])/float64(n), 2)
		}
		mm.Queues[q] = qs
	}
	res.WindowS = round(spanS, 3)
	if perr == nil && perr2 == nil && srv.PID > 0 {
		u := procstat.Between(procA, procB)
		u.Server += others
		u.Other = max(0, u.Other-others)
		res.Server.CPUSeconds = round(u.Server, 3)
		res.Server.CPUCores = round(u.Server/spanS, 3)
		if u.Server > 0 {
			mm.TicketsPerCoreS = round(float64(len(ts))/u.Server, 1)
		}
		res.Loadgen = result.Proc{CPUSeconds: round(u.Self, 3), CPUCores: round(u.Self/spanS, 3)}
		res.Other = result.Proc{CPUSeconds: round(u.Other, 3), CPUCores: round(u.Other/spanS, 3)}
		res.Kernel = result.Proc{CPUSeconds: round(u.Kernel, 3), CPUCores: round(u.Kernel/spanS, 3)}
		res.Noisy = res.Other.CPUCores > cfg.NoisyCores
	}
	mm.Phases = mmPhases(metrics)
	res.Matchmaking = mm
	res.Failures.Errors = r.errors()
	res.Verdict = MatchmakingVerdict(res)
	return res, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// followTicket opens t's ticket and long-polls it to its outcome.
func followTicket(ctx context.Context, hc *http.Client, base string, t *mmTicket) error {
	sent := time.Now()
	body := fmt.Sprintf(`{"queue":%q,"properties":{"skill":%g,"region":%q}}`, t.queue, t.skill, t.region)
	var tk struct {
		ID          string `json:"id"`
		Status      string `json:"status"`
		MatchID     string `json:"match_id"`
		WaitedMS    int64  `json:"waited_ms"`
		Reservation *struct {
			Address string `json:"address"`
		} `json:"reservation"`
	}
	call := func(method, url string, payload string) error {
		var rd io.Reader
		if payload != "" {
			rd = strings.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, rd)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+t.token)
		if payload != "" {
			req.Header.Set("Content-Type", "application/json")
			// Lets net/http retry the POST on a kept-alive connection the server had just
			// closed (a second ticket would be refused as CONFLICT, and counted as failed).
			req.Header.Set("Idempotency-Key", t.token[len(t.token)-16:])
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return &APIError{Status: resp.StatusCode, Msg: method + " " + url}
		}
		return json.NewDecoder(resp.Body).Decode(&tk)
	}
	if err := call("POST", base+"/v1/matchmaking/tickets", body); err != nil {
		return err
	}
	id := tk.ID
	for tk.Status == "searching" {
		if err := call("GET", base+"/v1/matchmaking/tickets/"+id+"?wait=25s&status=searching", ""); err != nil {
			return err
		}
	}
	t.status, t.match, t.serverMS, t.observed = tk.Status, tk.MatchID, tk.WaitedMS, time.Since(sent)
	if tk.Reservation != nil {
		t.node = tk.Reservation.Address
	}
	return nil
}

// MatchmakingVerdict: every ticket matched or (arena, lone leftovers) expired, none failed, and
// duel time-to-match p99 ≤ 1 s (the goal in issue 11).
func MatchmakingVerdict(res *result.Result) result.Verdict {
	var why []string
	mm := res.Matchmaking
	if mm == nil {
		return result.Verdict{Reason: "no figures"}
	}
	if mm.Failed > 0 {
		why = append(why, fmt.Sprintf("%d tickets failed", mm.Failed))
	}
	if d := mm.Queues["duel"]; d != nil && d.TimeToMatch.P99 > 1000 {
		why = append(why, fmt.Sprintf("duel time-to-match p99 %.0f ms > 1000 ms", d.TimeToMatch.P99))
	}
	if len(why) == 0 {
		return result.Verdict{Pass: true, Reason: "duel p99 ≤ 1 s, no failures"}
	}
	return result.Verdict{Reason: joinReasons(why)}
}

// mmPhase is the histogram of where time-to-match goes (server/matchmaking/metrics.go).
const mmPhase = "tickrelay_matchmaking_phase_seconds"

// mmPhases sums the phase histograms of the instances' /metrics texts: queue → phase → figures.
func mmPhases(texts [][]byte) map[string]map[string]result.MMPhase {
	type acc struct {
		buckets     Buckets
		sum, counts float64
	}
	accs := map[[2]string]*acc{}
	get := func(labels string) (*acc, string) {
		var queue, phase, le string
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			v = strings.Trim(v, `"`)
			switch strings.TrimSpace(k) {
			case "queue":
				queue = v
			case "phase":
				phase = v
			case "le":
				le = v
			}
		}
		if queue == "" || phase == "" {
			return nil, ""
		}
		a := accs[[2]string{queue, phase}]
		if a == nil {
			a = &acc{buckets: Buckets{}}
			accs[[2]string{queue, phase}] = a
		}
		return a, le
	}
	for _, text := range texts {
		metricLines(text, mmPhase+"_bucket", func(labels string, v float64) {
			a, le := get(labels)
			if a == nil {
				return
			}
			bound, err := strconv.ParseFloat(le, 64)
			if le == "+Inf" {
				bound, err = math.Inf(1), nil
			}
			if err == nil {
				a.buckets[bound] += v
			}
		})
		metricLines(text, mmPhase+"_sum", func(labels string, v float64) {
			if a, _ := get(labels); a != nil {
				a.sum += v
			}
		})
		metricLines(text, mmPhase+"_count", func(labels string, v float64) {
			if a, _ := get(labels); a != nil {
				a.counts += v
			}
		})
	}
	out := map[string]map[string]result.MMPhase{}
	for k, a := range accs {
		if a.counts == 0 {
			continue
		}
		p50, _, _ := Quantile(nil, a.buckets, 0.5)
		p99, _, _ := Quantile(nil, a.buckets, 0.99)
		if out[k[0]] == nil {
			out[k[0]] = map[string]result.MMPhase{}
		}
		out[k[0]][k[1]] = result.MMPhase{Count: int64(a.counts), MeanMS: round(a.sum/a.counts*1000, 2),
			P50MS: round(p50*1000, 2), P99MS: round(p99*1000, 2)}
	}
	return out
}
