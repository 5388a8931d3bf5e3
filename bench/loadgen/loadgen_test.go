package loadgen

import (
	"context"
	"math"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/bench/floor"
	"github.com/tickrelay/tickrelay/bench/internal/hist"
	"github.com/tickrelay/tickrelay/bench/internal/result"
	"github.com/tickrelay/tickrelay/protocol"
)

const metricsText = `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
go_goroutines_extra 7
# TYPE tick histogram
tick_bucket{match="a",le="0.001"} 50
tick_bucket{match="a",le="0.01"} 90
tick_bucket{match="a",le="+Inf"} 100
tick_bucket{match="b",le="0.001"} 50
tick_bucket{match="b",le="0.01"} 90
tick_bucket{match="b",le="+Inf"} 100
tick_sum 1.5
tick_count 200
`

func TestGaugeAndHistogram(t *testing.T) {
	if v, ok := Gauge([]byte(metricsText), "go_goroutines"); !ok || v != 42 {
		t.Fatalf("gauge = %v %v", v, ok)
	}
	if _, ok := Gauge([]byte(metricsText), "nope"); ok {
		t.Fatal("missing gauge found")
	}
	b := HistogramBuckets([]byte(metricsText), "tick")
	if len(b) != 3 || b[0.001] != 100 || b[math.Inf(1)] != 200 {
		t.Fatalf("buckets %v", b)
	}
	// p50 of 200 observations: rank 100 = the end of the first bucket
	if q, n, ok := Quantile(nil, b, 0.5); !ok || n != 200 || math.Abs(q-0.001) > 1e-12 {
		t.Fatalf("p50 = %v %d %v", q, n, ok)
	}
	// p99: rank 198 falls in +Inf: the last finite bound
	if q, _, _ := Quantile(nil, b, 0.99); q != 0.01 {
		t.Fatalf("p99 = %v", q)
	}
	// p70: rank 140, in (0.001, 0.01] with 80 of them, 40 in: linear → 0.001 + 0.009×0.5
	if q, _, _ := Quantile(nil, b, 0.7); math.Abs(q-0.0055) > 1e-9 {
		t.Fatalf("p70 = %v", q)
	}
	// difference of two snapshots: only what happened between them
	before := Buckets{0.001: 100, 0.01: 180, math.Inf(1): 200}
	after := Buckets{0.001: 100, 0.01: 280, math.Inf(1): 300}
	if q, n, ok := Quantile(before, after, 0.5); !ok || n != 100 || math.Abs(q-0.0055) > 1e-9 {
		t.Fatalf("window p50 = %v %d %v", q, n, ok)
	}
	if _, _, ok := Quantile(after, after, 0.5); ok {
		t.Fatal("no observations but a quantile")
	}
}

func TestCapacitySearch(t *testing.T) {
	for _, capacity := range []int{0, 3, 137, 260, 999} {
		lo, hi := 0, 0
		m, trials := 50, 0
		for {
			trials++
			next, done := nextM(&lo, &hi, m, m <= capacity, 1000, bracket{})
			if done {
				break
			}
			if trials > 40 {
				t.Fatalf("capacity %d: no convergence (lo %d hi %d)", capacity, lo, hi)
			}
			m = next
		}
		if lo > capacity || capacity-lo > resolution(lo) {
			t.Errorf("capacity %d: found %d in %d trials", capacity, lo, trials)
		}
		if trials > maxTrials {
			t.Errorf("capacity %d: %d trials > %d", capacity, trials, maxTrials)
		}
	}
	lo, hi := 0, 0
	if _, done := nextM(&lo, &hi, 1000, true, 1000, bracket{}); !done || lo != 1000 {
		t.Fatal("ceiling not reached")
	}
}

// The second repetition starts at the first one's answer: a few trials, and its own answer
// when the capacity moved (a noisy first repetition, a drift).
func TestCapacitySecondRepetitionIsShort(t *testing.T) {
	search := func(capacity, start int, hint bracket) (int, int, bracket) {
		lo, hi, m, trials := 0, 0, start, 0
		if hint.lo > 0 {
			m = hint.lo
		}
		for {
			trials++
			next, done := nextM(&lo, &hi, m, m <= capacity, 400, hint)
			if done || trials > 40 {
				return lo, trials, bracket{lo, hi}
			}
			m = next
		}
	}
	for _, tc := range []struct{ first, second, maxTrials int }{
		{280, 280, 2}, // the same capacity: confirm the pass, confirm the failure
		{280, 270, 4}, // a little lower
		{280, 300, 4}, // a little higher
		{280, 150, 9}, // much lower: 10% steps down, then bisection
		{280, 400, 7}, // up to the ceiling (10% steps)
	} {
		lo1, trials1, b := search(tc.first, 240, bracket{})
		if tc.first-lo1 > resolution(lo1) || trials1 > maxTrials {
			t.Fatalf("first repetition: %d in %d trials", lo1, trials1)
		}
		lo2, trials2, _ := search(tc.second, 240, b)
		if lo2 > tc.second || tc.second-lo2 > resolution(lo2) {
			t.Errorf("capacity %d after %d: found %d", tc.second, tc.first, lo2)
		}
		if trials2 > tc.maxTrials {
			t.Errorf("capacity %d after %d (bracket %v): %d trials > %d", tc.second, tc.first, b, trials2, tc.maxTrials)
		}
	}
}

func TestLoadVerdict(t *testing.T) {
	r := &result.Result{Latency: &hist.Summary{Count: 10, P99: 42}}
	if v := LoadVerdict(r); !v.Pass {
		t.Fatalf("%+v", v)
	}
	r.Latency.P99 = 100
	r.Failures.Dropped = 2
	v := LoadVerdict(r)
	if v.Pass || !strings.Contains(v.Reason, "p99") || !strings.Contains(v.Reason, "2 dropped") {
		t.Fatalf("%+v", v)
	}
	if v := LoadVerdict(&result.Result{}); v.Pass {
		t.Fatal("no samples passed")
	}
	if v := StormVerdict(&result.Result{Storm: &result.Storm{Target: 10, Connected: 10}}); !v.Pass {
		t.Fatalf("%+v", v)
	}
}

func TestAckLatencyAndFinalize(t *testing.T) {
	cfg := Defaults()
	r := newRun(&cfg)
	r.winStart.Store(0)
	c := &client{r: r, role: roleAck, sends: true}
	ms := int64(time.Millisecond)
	for s := uint32(1); s <= 5; s++ {
		sl := &c.ring[s%ringSize]
		sl.ts.Store((int64(s)*10*ms)<<1 | 1)
		sl.seq.Store(s)
		c.winSent.Add(1)
	}
	c.onAck(3, 50*ms) // inputs 1..3 sent at 10, 20, 30 ms: 40, 30, 20 ms
	c.onAck(2, 60*ms) // stale: ignored
	if c.lastAck != 3 || c.ackedWin != 3 {
		t.Fatalf("lastAck %d ackedWin %d", c.lastAck, c.ackedWin)
	}
	if got := c.finalize(100*ms, 100*ms); got != 2 { // 4 and 5 never acked: 60 and 50 ms
		t.Fatalf("unacked %d", got)
	}
	c.onAck(5, 200*ms) // after finalize: ignored
	s := hist.Summarize(r.lat.Merged())
	if s.Count != 5 || math.Abs(s.Max-60) > 0.1 || math.Abs(s.P50-40) > 0.1 {
		t.Fatalf("summary %+v", s)
	}
}

func TestPeekTick(t *testing.T) {
	b := protocol.AppendServer(nil, &protocol.ServerMsg{Op: protocol.OpDelta, Epoch: 3, Tick: 70000, Since: 1})
	if tick, ok := peekTick(b); !ok || tick != 70000 {
		t.Fatalf("%d %v", tick, ok)
	}
	if _, ok := peekTick([]byte{0x99, 0x22}); ok {
		t.Fatal("truncated delta peeked")
	}
}

func TestPayloads(t *testing.T) {
	for _, p := range payloads {
		var m protocol.ClientMsg
		if err := protocol.DecodeClient(protocol.AppendInput(nil, 1, 2, p), &m); err != nil {
			t.Fatal(err)
		}
		var v []float64
		if err := protocol.Unmarshal(m.Payload, &v); err != nil || len(v) != 2 || v[0] < -1 || v[0] > 1 || v[1] < -1 || v[1] > 1 {
			t.Fatalf("payload %v %v", v, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Addr = "10.1.2.3:80" }, "loopback"},
		{func(c *Config) { c.Addr = "example.com:80" }, "loopback"},
		{func(c *Config) { c.Scenario = ScenarioCluster; c.Spread = 3 }, "-spread"},
		{func(c *Config) { c.Scenario = ScenarioCluster; c.Instances = 1 }, "-instances"},
		{func(c *Config) { c.Scenario = ScenarioCluster; c.Fault = "meteor" }, "unknown -fault"},
		{func(c *Config) { c.Scenario = ScenarioCluster; c.Fault = FaultRedisKill; c.FaultFor = time.Minute }, "must fit"},
		{func(c *Config) { c.Scenario = ScenarioCluster; c.Addr = "127.0.0.1:1" }, "no -addr"},
		{func(c *Config) { c.Scenario = "nope" }, "unknown scenario"},
		{func(c *Config) { c.Scenario = ScenarioFloor; c.Target = TargetTickrelay }, "floor"},
		{func(c *Config) { c.Matches = 0 }, "positive"},
		{func(c *Config) { c.Client = "netty" }, "unknown -client"},
	} {
		c := Defaults()
		tc.mod(&c)
		if err := c.Normalize(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error with %q, got %v", tc.want, err)
		}
	}
	c := Defaults()
	c.Addr = "127.0.0.1:8080"
	if err := c.Normalize(); err != nil || c.Target != TargetExternal {
		t.Fatalf("%v %q", err, c.Target)
	}
	c = Defaults()
	c.Scenario = ScenarioStorm
	if err := c.Normalize(); err != nil || c.Game != "relay" || c.Target != TargetTickrelay {
		t.Fatalf("%v %+v", err, c)
	}
}

// inProcessFloor serves the floor from this test process.
func inProcessFloor(t *testing.T) *Server {
	t.Helper()
	s := floor.New(floor.Config{Tick: 20 * time.Millisecond})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	return &Server{Addr: strings.TrimPrefix(hs.URL, "http://"), PID: os.Getpid(), Target: TargetExternal}
}

func TestRunLoadAgainstFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	srv := inProcessFloor(t)
	for _, client := range []string{ClientEpoll, ClientGws} {
		t.Run(client, func(t *testing.T) {
			cfg := Defaults()
			cfg.Scenario, cfg.Addr, cfg.Client = ScenarioFloor, srv.Addr, client
			cfg.Matches, cfg.Players = 3, 4
			cfg.Warmup, cfg.Duration, cfg.Drain = 100*time.Millisecond, 400*time.Millisecond, 500*time.Millisecond
			cfg.Interval = 20 * time.Millisecond
			cfg.Probe = true
			cfg.Out = t.TempDir() + "/r.jsonl"
			if err := cfg.Normalize(); err != nil {
				t.Fatal(err)
			}
			res, err := RunLoad(context.Background(), &cfg, srv)
			if err != nil {
				t.Fatal(err)
			}
			if res.Clients != 12 || res.Measuring != 3 || res.Latency == nil || res.Latency.Count == 0 || res.Params.Client != client {
				t.Fatalf("result %+v", res)
			}
			f := res.Failures
			if f.FailedSetup+f.FailedJoins+f.JoinCheckFailed+f.Dropped != 0 || res.DeltaGaps != 0 {
				t.Fatalf("failures %+v gaps %d errors %v", f, res.DeltaGaps, f.Errors)
			}
			if res.Traffic.MsgsInPerSec <= 0 || res.Traffic.AvgMsgIn < 14*4 || res.Server.TickP99Ms == nil {
				t.Fatalf("traffic %+v tick %v", res.Traffic, res.Server.TickP99Ms)
			}
			// every client sends its inputs at the configured rate (12 clients at 50 Hz)
			if r := res.Traffic.MsgsOutPerSec; r < 12*50*0.5 || r > 12*50*1.25 {
				t.Fatalf("%.1f inputs/s, want ~600 (window %v s, in %v/s, late %d skipped %d)", r, res.WindowS, res.Traffic.MsgsInPerSec, res.Failures.LateSends, res.Failures.SkippedSends)
			}
			if res.Loadgen.CPUUsPerMsg <= 0 {
				t.Fatalf("load generator figures %+v", res.Loadgen)
			}
			if !strings.Contains(Summary(res), "verdict") {
				t.Fatal("summary without verdict")
			}
		})
	}
}

func TestFanoutAndStormAgainstFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	srv := inProcessFloor(t)
	cfg := Defaults()
	cfg.Scenario, cfg.Addr = ScenarioFanout, srv.Addr
	cfg.Spectators = 20
	cfg.Warmup, cfg.Duration, cfg.Drain = 100*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	cfg.Interval = 20 * time.Millisecond
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	res, err := RunLoad(context.Background(), &cfg, srv)
	if err != nil {
		t.Fatal(err)
	}
	if res.Clients != 21 || res.Spread == nil || res.Spread.Count == 0 || res.Latency.Count == 0 || res.Failures.Dropped != 0 {
		t.Fatalf("fanout %+v spread %+v", res, res.Spread)
	}

	cfg = Defaults()
	cfg.Scenario, cfg.Addr = ScenarioStorm, srv.Addr
	cfg.Connections, cfg.Batch, cfg.LobbySize, cfg.Idle = 30, 8, 12, 300*time.Millisecond
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	res, err = RunStorm(context.Background(), &cfg, srv)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verdict.Pass || res.Storm.Connected != 30 || res.Storm.Handshake.Count != 30 || res.Storm.Goroutines == nil {
		t.Fatalf("storm %+v %+v errors %v", res.Verdict, res.Storm, res.Failures.Errors)
	}
}

func TestCapacityRunsRepetitionsFromThePreviousAnswer(t *testing.T) {
	cfg := Defaults()
	cfg.Matches, cfg.CapacityMax, cfg.CapacityReps = 240, 400, 2
	defer func(d time.Duration) { capacitySettle = d }(capacitySettle)
	capacitySettle = 0
	var tried []int
	trial := func(_ context.Context, m int, name string) (*result.Result, error) {
		tried = append(tried, m)
		res := &result.Result{}
		res.Verdict.Pass = m <= 263
		return res, nil
	}
	res, err := Capacity(context.Background(), &cfg, trial)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Capacity
	if len(c.MaxM) != 2 || 263-c.MaxM[0] > resolution(c.MaxM[0]) || 263-c.MaxM[1] > resolution(c.MaxM[1]) {
		t.Fatalf("max M %v (tried %v)", c.MaxM, tried)
	}
	if len(c.TrialsPerRep) != 2 || c.TrialsPerRep[1] > 3 || c.Trials != len(tried) {
		t.Fatalf("trials %v of %d: %v", c.TrialsPerRep, c.Trials, tried)
	}
	if first := tried[c.TrialsPerRep[0]]; first != c.MaxM[0] {
		t.Fatalf("the second repetition started at %d, not at the first answer %d", first, c.MaxM[0])
	}
}
