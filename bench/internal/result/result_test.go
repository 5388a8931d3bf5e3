package result

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickrelay/tickrelay/bench/internal/hist"
)

func sample() *Result {
	tick := 1.25
	return &Result{
		Schema: Schema, Time: "2026-11-22T04:00:00Z", Scenario: "floor", Target: "floor",
		Params:  Params{Matches: 50, Players: 10, Probe: false, InputHz: 20, WarmupS: 2, DurationS: 5, DrainS: 2},
		Env:     Env{Commit: "abc123", GoVersion: "go1.26.8", NumCPU: 2, GOMAXPROCS: 2, ClockTicks: 100},
		Verdict: Verdict{Pass: true, Reason: "p99 < 100 ms and no drops"},
		Clients: 500, Measuring: 500, WindowS: 5.001,
		Latency:  &hist.Summary{Count: 50000, Mean: 26, P50: 25.1, P90: 45.2, P99: 50.3, P999: 52, Max: 60},
		Server:   Server{PID: 42, CPUSeconds: 1.5, CPUCores: 0.3, CPUMsPerClientSec: 0.6, RSSEndMB: 20, RSSPeakMB: 21, HWMMB: 22, TickP99Ms: &tick},
		Traffic:  Traffic{MsgsInPerSec: 10000, BytesInPerSec: 1.5e6, BytesInPerClientSec: 3000},
		Failures: Failures{Errors: map[string]int{"x": 1}},
	}
}

func TestLineShape(t *testing.T) {
	line, err := Line(sample())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("not one line: %q", line)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "time", "scenario", "target", "params", "env", "verdict", "noisy", "clients",
		"window_s", "latency_ms", "unacked", "server", "loadgen", "other", "traffic", "failures"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing", k)
		}
	}
	for _, k := range []string{"storm", "capacity", "spread_ms", "label"} {
		if _, ok := m[k]; ok {
			t.Errorf("empty %q should be omitted", k)
		}
	}
	lat := m["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "p999", "max", "count"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency_ms.%s missing", k)
		}
	}
	srv := m["server"].(map[string]any)
	for _, k := range []string{"cpu_s", "cpu_cores", "cpu_ms_per_client_s", "rss_end_mb", "rss_peak_mb", "hwm_mb", "tick_p99_ms"} {
		if _, ok := srv[k]; !ok {
			t.Errorf("server.%s missing", k)
		}
	}
	env := m["env"].(map[string]any)
	for _, k := range []string{"commit", "go_version", "num_cpu"} {
		if _, ok := env[k]; !ok {
			t.Errorf("env.%s missing", k)
		}
	}
}

func TestAppendAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deep", "dir", "r.jsonl")
	a, b := sample(), sample()
	b.Scenario = "arena"
	if err := Append(path, a); err != nil {
		t.Fatal(err)
	}
	if err := Append(path, b); err != nil {
		t.Fatal(err)
	}
	rs, err := ReadFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Scenario != "floor" || rs[1].Scenario != "arena" || rs[1].Latency.P99 != 50.3 || *rs[0].Server.TickP99Ms != 1.25 {
		t.Fatalf("read back %+v", rs)
	}
	if _, err := ReadFiles(path, filepath.Join(t.TempDir(), "missing.jsonl")); err == nil {
		t.Fatal("missing file not reported")
	}
}

func TestReadRejects(t *testing.T) {
	if _, err := Read(strings.NewReader("\n{\"schema\":1}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("bad line: %v", err)
	}
	if _, err := Read(strings.NewReader("{\"foo\":1}\n")); err == nil {
		t.Fatal("a line without schema accepted")
	}
	rs, err := Read(strings.NewReader("\n\n"))
	if err != nil || len(rs) != 0 {
		t.Fatalf("blank: %v %v", rs, err)
	}
}

func TestNewEnv(t *testing.T) {
	wd, _ := os.Getwd()
	e := NewEnv(wd, 2, 2, 100)
	if e.GoVersion == "" || e.NumCPU != 2 || e.ClockTicks != 100 {
		t.Fatalf("env %+v", e)
	}
}
