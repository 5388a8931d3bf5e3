package report

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"github.com/tickrelay/tickrelay/bench/internal/hist"
	"github.com/tickrelay/tickrelay/bench/internal/result"
)

func load(scenario, target string, m int, p99, cpu float64, pass bool) result.Result {
	return result.Result{
		Schema: 1, Time: "2026-11-22T04:00:00Z", Scenario: scenario, Target: target,
		Params:  result.Params{Matches: m, Players: 10},
		Env:     result.Env{Commit: "abc"},
		Verdict: result.Verdict{Pass: pass},
		Clients: m * 10,
		Latency: &hist.Summary{Count: 100, P50: p99 / 2, P99: p99, P999: p99 + 1, Max: p99 + 2},
		Server:  result.Server{CPUCores: cpu, CPUMsPerClientSec: cpu * 1000 / float64(m*10)},
	}
}

func sampleResults() []result.Result {
	rs := []result.Result{
		load("floor", "floor", 50, 48, 0.10, true),
		load("arena", "tickrelay", 50, 52, 0.15, true),
		load("arena", "tickrelay", 100, 70, 0.30, true),
		load("arena", "tickrelay", 100, 74, 0.32, true),
		load("arena", "tickrelay", 250, 180, 0.9, false),
		{Schema: 1, Scenario: "fanout", Target: "floor", Params: result.Params{Spectators: 1000},
			Latency: &hist.Summary{P99: 40}, Spread: &hist.Summary{P99: 3}, Verdict: result.Verdict{Pass: true}},
		{Schema: 1, Scenario: "connect-storm", Target: "floor", Storm: &result.Storm{Target: 100, Connected: 100, Goroutines: &[3]int64{5, 205, 6}}},
		{Schema: 1, Scenario: "capacity", Target: "tickrelay", Capacity: &result.Capacity{Players: 10, MaxM: []int{140, 150}, Clients: []int{1400, 1500}, Trials: 14}},
	}
	return rs
}

func TestWriteMarkdown(t *testing.T) {
	rs := sampleResults()
	var b bytes.Buffer
	if err := WriteMarkdown(&b, rs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"### arena and transport floor", "### fanout", "### connect-storm", "### capacity search",
		"| 50×10 | 500 |", "| 1.50 |", "FAIL", "140, 150", "5/205/6"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	// every table row has as many cells as its header
	var cols int
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(line, "|")
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("row with %d separators, header %d: %s", n, cols, line)
		}
	}
	b.Reset()
	if err := WriteMarkdown(&b, nil); err != nil || !strings.Contains(b.String(), "no results") {
		t.Fatalf("empty: %q %v", b.String(), err)
	}
}

func TestFloorRatio(t *testing.T) {
	rs := sampleResults()
	if got := FloorRatio(rs, &rs[1]); got < 1.49 || got > 1.51 {
		t.Fatalf("ratio %v", got)
	}
	if got := FloorRatio(rs, &rs[2]); got != 0 { // no floor run at M=100
		t.Fatalf("ratio without a floor run %v", got)
	}
}

func TestSeriesMedians(t *testing.T) {
	ss := series(sampleResults())
	pts := ss["arena"]
	if len(pts) != 3 || pts[1].clients != 1000 || pts[1].p99 != 72 || pts[1].runs != 2 || !pts[2].anyFailure {
		t.Fatalf("arena series %+v", pts)
	}
	if len(ss["floor"]) != 1 {
		t.Fatalf("floor series %+v", ss["floor"])
	}
}

func TestWriteChart(t *testing.T) {
	for _, rs := range [][]result.Result{sampleResults(), nil} {
		var b bytes.Buffer
		if err := WriteChart(&b, rs); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&b)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != chartW || img.Bounds().Dy() != chartH {
			t.Fatalf("size %v", img.Bounds())
		}
	}
}

func TestTicks(t *testing.T) {
	if got := ticks(110); len(got) != 6 || got[1] != 20 {
		t.Fatalf("ticks(110) = %v", got)
	}
	if got := niceStep(0.037); got != 0.05 {
		t.Fatalf("niceStep = %v", got)
	}
	if label(12000) != "12K" || label(2.5) != "2.5" || label(0) != "0" {
		t.Fatal(label(12000), label(2.5))
	}
	if textWidth("ab", 2) != 22 {
		t.Fatal(textWidth("ab", 2))
	}
}

func TestBothFloorsAndWakeups(t *testing.T) {
	rs := []result.Result{
		load("floor", "floor", 50, 48, 0.10, true),
		load("floor", "epoll", 50, 48, 0.05, true),
		load("arena", "tickrelay", 50, 52, 0.15, true),
	}
	rs[2].Server.UserSeconds, rs[2].Server.SysSeconds = 1.25, 2.5
	rs[2].Server.CtxPerSec, rs[2].Server.CtxPerMsg = 8222, 0.411
	rs[2].Server.ReadCallsPerMsg, rs[2].Server.WriteCallsPerMsg = 0.75, 0.5
	if got := FloorRatioTo(rs, &rs[2], FloorEpoll); got < 2.99 || got > 3.01 {
		t.Fatalf("× epoll floor = %v, want 3", got)
	}
	if got := FloorRatio(rs, &rs[2]); got < 1.49 || got > 1.51 {
		t.Fatalf("× gws floor = %v, want 1.5 (the epoll floor run must not count)", got)
	}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, rs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"| 1.25/2.50 | 8222 | 0.411 | 1.25 r+w | 1.50 | 3.00 |", "| floor | epoll |"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	rs[2].Server.Syscalls = &result.Syscalls{Total: 1000, PerMsg: 2.5}
	b.Reset()
	_ = WriteMarkdown(&b, rs)
	if !strings.Contains(b.String(), "| 2.50 (perf) |") {
		t.Errorf("perf's count not preferred:\n%s", b.String())
	}
	if s := series(rs); len(s["floor (epoll)"]) != 1 || len(s["floor"]) != 1 {
		t.Errorf("chart series: %v", s)
	}
}
