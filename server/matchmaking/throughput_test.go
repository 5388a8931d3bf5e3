package matchmaking

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// BenchmarkMatchmakerDuel feeds tickets at 1,000/s (half duel, half arena) into a matchmaker
// with real placement on a server (no HTTP), and reports the time-to-match percentiles and the
// process CPU per ticket.
func BenchmarkMatchmakerDuel(b *testing.B) {
	benchThroughput(b, nil, nil, 0)
}

// BenchmarkMatchmakerRedis is BenchmarkMatchmakerDuel with the tickets in a real redis-server
// (RedisStore, one instance holding the leases): the cost of the shared store per ticket, this
// process's CPU and redis-server's.
func BenchmarkMatchmakerRedis(b *testing.B) {
	rs := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	store, err := NewRedisStore(rdb, "bench:mm:", 100000, time.Minute, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	benchThroughput(b, store, rs, 0)
}

// BenchmarkMatchmakerRedisDeep is BenchmarkMatchmakerRedis with 2,000 tickets waiting in each
// queue that match nobody (skills 10,000 apart): what a pass costs when the queue is long.
func BenchmarkMatchmakerRedisDeep(b *testing.B) {
	rs := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	store, err := NewRedisStore(rdb, "bench:mm:", 100000, time.Minute, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	benchThroughput(b, store, rs, 2000)
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchThroughput(b *testing.B, store Store, rs *redistest.Server, deep int) {
	srv, err := server.New(server.Config{Secret: testSecret, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	done := make(chan *Ticket, 100000)
	var mm *Matchmaker
	mm, err = New(Config{TicketTTL: Duration(20 * time.Second)}, Options{Placer: NewLocalPlacer(srv), Store: store, Log: slog.New(slog.DiscardHandler),
		Notify: func(p string, t *Ticket) {
			if t.Status.Terminal() && t.Owner == p {
				done <- t
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	mm.Start()
	defer mm.Close()
	if store != nil {
		deadline := time.Now().Add(5 * time.Second)
		for !mm.Leading("duel") || !mm.Leading("arena") {
			if time.Now().After(deadline) {
				b.Fatal("no lease")
			}
			time.Sleep(10 * time.Millisecond) // waiting for the first lease, not a test synchronisation
		}
	}
	for i := range deep {
		for _, q := range []string{"duel", "arena"} {
			_, err := mm.Submit(context.Background(), Member{ID: fmt.Sprintf("deep-%s-%d", q, i)}, Request{Queue: q,
				Properties: map[string]any{"skill": float64(100000 + i*10000)}})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 5000
	regions := []string{"eu", "na", "sa", "me", "as", "oc"}
	redisCPU := func() time.Duration { return 0 }
	if rs != nil {
		redisCPU = func() time.Duration { return procCPU(b, rs.PID()) }
	}
	cpu0, rcpu0 := cpuNow(), redisCPU()
	start := time.Now()
	b.ResetTimer()
	for i := range n {
		at := start.Add(time.Duration(i) * time.Millisecond)
		time.Sleep(time.Until(at))
		q := "duel"
		if i%2 == 1 {
			q = "arena"
		}
		_, err := mm.Submit(context.Background(), Member{ID: fmt.Sprintf("p%d", i)}, Request{Queue: q,
			Properties: map[string]any{"skill": math.Round(1500 + rng.NormFloat64()*300), "region": regions[rng.IntN(6)]}})
		if err != nil {
			b.Fatal(err)
		}
	}
	var duel []float64
	var cpu, rcpu time.Duration
	seen := map[string]bool{} // the feed may tell one outcome twice
	duels := 0
	for len(seen) < n {
		t := <-done
		if seen[t.ID] || strings.HasPrefix(t.Owner, "deep-") {
			continue
		}
		seen[t.ID] = true
		if t.Queue != "duel" {
			continue
		}
		if duels++; duels == (n+1)/2 { // the CPU up to the last duel outcome (before any expiry)
			cpu, rcpu = cpuNow()-cpu0, redisCPU()-rcpu0
		}
		if t.Status == Matched {
			duel = append(duel, float64(t.Ended.Sub(t.Created).Milliseconds()))
		}
	}
	sort.Float64s(duel)
	b.ReportMetric(duel[len(duel)/2], "p50_ms")
	b.ReportMetric(duel[len(duel)*99/100], "p99_ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu_us/ticket")
	if rs != nil {
		b.ReportMetric(float64(rcpu.Microseconds())/float64(n), "redis_cpu_us/ticket")
	}
	b.ReportMetric(float64(n)/(cpu+rcpu).Seconds(), "tickets/core-s")
	var runs, matchS float64
	for _, c := range collect(b, mm.metrics.runSeconds) {
		runs += float64(c.GetHistogram().GetSampleCount())
		matchS += c.GetHistogram().GetSampleSum()
	}
	var readS float64
	for _, c := range collect(b, mm.metrics.readSeconds) {
		readS += c.GetHistogram().GetSampleSum()
	}
	b.ReportMetric(runs, "passes")
	b.ReportMetric(readS/runs*1e6, "read_us/pass")
	b.ReportMetric(matchS/runs*1e6, "match_us/pass")
	b.Logf("elapsed %v, duel matched %d", time.Since(start), len(duel))
}

// procCPU is process pid's utime+stime from /proc (clock ticks of 10 ms).
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func collect(b *testing.B, c prometheus.Collector) []*dto.Metric {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	var out []*dto.Metric
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			b.Fatal(err)
		}
		out = append(out, &d)
	}
	return out
}
