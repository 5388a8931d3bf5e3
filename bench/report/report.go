// Package report turns benchmark result lines (bench/internal/result) into Markdown tables and a
// PNG chart drawn with the standard library only.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tickrelay/tickrelay/bench/internal/hist"
	"github.com/tickrelay/tickrelay/bench/internal/result"
)

// isLoad reports whether r is an arena-shaped load run (arena or floor, including capacity trials).
func isLoad(r *result.Result) bool {
	return (r.Scenario == "arena" || r.Scenario == "floor") && r.Capacity == nil && r.Storm == nil
}

// The floors an arena run is compared with: the gws floor (target "floor": a minimal gws
// server) and the epoll floor (target "epoll": one thread, raw system calls, no runtime
// scheduler in the way).
const (
	FloorGWS   = "floor"
	FloorEpoll = "epoll"
)

// floorRef finds the floor run to compare an arena run with: the latest floor run served by
// target (FloorGWS or FloorEpoll) with the same matches, players and probe mode, else nil.
func floorRef(rs []result.Result, r *result.Result, target string) *result.Result {
	var ref *result.Result
	for i := range rs {
		f := &rs[i]
		if f.Scenario == "floor" && f.Target == target && f.Capacity == nil && f.Params.Matches == r.Params.Matches &&
			f.Params.Players == r.Params.Players && f.Params.Probe == r.Params.Probe && f.Server.CPUMsPerClientSec > 0 {
			ref = f
		}
	}
	return ref
}

// FloorRatio is an arena run's server CPU per client-second over its gws floor run's, 0 if none.
func FloorRatio(rs []result.Result, r *result.Result) float64 { return FloorRatioTo(rs, r, FloorGWS) }

// FloorRatioTo is an arena run's server CPU per client-second over that of its run against the
// given floor (FloorGWS, FloorEpoll), 0 if there is none.
func FloorRatioTo(rs []result.Result, r *result.Result, floor string) float64 {
	if r.Scenario != "arena" {
		return 0
	}
	f := floorRef(rs, r, floor)
	if f == nil || r.Server.CPUMsPerClientSec == 0 {
		return 0
	}
	return r.Server.CPUMsPerClientSec / f.Server.CPUMsPerClientSec
}

// ratio formats FloorRatioTo ("–" without a floor run).
func ratio(rs []result.Result, r *result.Result, floor string) string {
	if x := FloorRatioTo(rs, r, floor); x > 0 {
		return fmt.Sprintf("%.2f", x)
	}
	return "–"
}

// wakeups is the server's user/system CPU, context switches per second and per message, and
// system calls per message (perf's count with -syscalls, else the read+write calls of
// /proc/PID/io).
func wakeups(r *result.Result) (userSys, cs, csMsg, calls string) {
	s := r.Server
	userSys, cs, csMsg, calls = "–", "–", "–", "–"
	if s.UserSeconds > 0 || s.SysSeconds > 0 {
		userSys = fmt.Sprintf("%.2f/%.2f", s.UserSeconds, s.SysSeconds)
	}
	if s.CtxPerSec > 0 {
		cs = fmt.Sprintf("%.0f", s.CtxPerSec)
		csMsg = fmt.Sprintf("%.3f", s.CtxPerMsg)
	}
	switch {
	case s.Syscalls != nil && s.Syscalls.Err == "" && s.Syscalls.PerMsg > 0:
		calls = fmt.Sprintf("%.2f (perf)", s.Syscalls.PerMsg)
	case s.ReadCallsPerMsg+s.WriteCallsPerMsg > 0:
		calls = fmt.Sprintf("%.2f r+w", s.ReadCallsPerMsg+s.WriteCallsPerMsg)
	}
	return
}

func verdict(r *result.Result) string {
	v := "FAIL"
	if r.Verdict.Pass {
		v = "pass"
	}
	if r.Noisy {
		v += " (noisy)"
	}
	return v
}

func when(t string) string {
	if len(t) >= 16 {
		return strings.Replace(t[:16], "T", " ", 1)
	}
	return t
}

func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

// WriteMarkdown writes one table per kind of run present in rs: load runs (arena, floor), fanout,
// connect-storm and capacity searches.
func WriteMarkdown(w io.Writer, rs []result.Result) error {
	var load, fan, storm, capa []*result.Result
	for i := range rs {
		r := &rs[i]
		switch {
		case r.Capacity != nil:
			capa = append(capa, r)
		case r.Storm != nil:
			storm = append(storm, r)
		case r.Scenario == "fanout":
			fan = append(fan, r)
		case isLoad(r):
			load = append(load, r)
		}
	}
	p := &printer{w: w}
	if len(load) > 0 {
		p.line("### arena and transport floors\n")
		p.line("Context switches and system calls are the server's; \"per message\" counts messages both ways.\n")
		p.line("| when (UTC) | scenario | target | commit | M×P | clients | probe | p50 ms | p99 ms | p99.9 ms | max ms | server cores | CPU ms/client-s | user/sys s | ctx switches/s | ctx/msg | syscalls/msg | × gws floor | × epoll floor | RSS MB (peak) | B/client-s | drops/fails | late/skipped sends | other cores | verdict |")
		p.line("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
		for _, r := range load {
			probe := "no"
			if r.Params.Probe {
				probe = "yes"
			}
			l := r.Latency
			if l == nil {
				l = &hist.Summary{}
			}
			f := r.Failures
			us, cs, csm, calls := wakeups(r)
			p.line(fmt.Sprintf("| %s | %s | %s | %s | %d×%d | %d | %s | %s | %s | %s | %s | %s | %.4f | %s | %s | %s | %s | %s | %s | %.1f (%.1f) | %.0f | %d/%d | %d/%d | %s | %s |",
				when(r.Time), r.Scenario, r.Target, orDash(r.Env.Commit), r.Params.Matches, r.Params.Players, r.Clients, probe,
				f2(l.P50), f2(l.P99), f2(l.P999), f2(l.Max), f2(r.Server.CPUCores), r.Server.CPUMsPerClientSec,
				us, cs, csm, calls, ratio(rs, r, FloorGWS), ratio(rs, r, FloorEpoll),
				r.Server.RSSEndMB, r.Server.RSSPeakMB, r.Traffic.BytesInPerClientSec,
				f.Dropped, f.FailedSetup+f.FailedJoins+f.JoinCheckFailed, f.LateSends, f.SkippedSends, f2(r.Other.CPUCores), verdict(r)))
		}
		p.line("")
	}
	if len(fan) > 0 {
		p.line("### fanout\n")
		p.line("| when (UTC) | target | commit | spectators | delivered msg/s | p50 ms | p99 ms | spread p99 ms | server cores | µs/msg | ms/MB | RSS MB | drops | verdict |")
		p.line("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
		for _, r := range fan {
			l, s := r.Latency, r.Spread
			if l == nil {
				l = &hist.Summary{}
			}
			if s == nil {
				s = &hist.Summary{}
			}
			p.line(fmt.Sprintf("| %s | %s | %s | %d | %.0f | %s | %s | %s | %s | %s | %s | %.1f | %d | %s |",
				when(r.Time), r.Target, orDash(r.Env.Commit), r.Params.Spectators, r.Traffic.MsgsInPerSec, f2(l.P50), f2(l.P99), f2(s.P99),
				f2(r.Server.CPUCores), f2(r.Server.CPUUsPerMsg), f2(r.Server.CPUMsPerMB), r.Server.RSSEndMB, r.Failures.Dropped, verdict(r)))
		}
		p.line("")
	}
	if len(storm) > 0 {
		p.line("### connect-storm\n")
		p.line("| when (UTC) | target | commit | connected | accepted/s | handshake p50/p99 ms | join p50/p99 ms | failures | RSS before/idle/after MB | KB per idle conn | idle: server cores, ctx switches/s | goroutines before/during/after | verdict |")
		p.line("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
		for _, r := range storm {
			s := r.Storm
			g := "–"
			if s.Goroutines != nil {
				g = fmt.Sprintf("%d/%d/%d", s.Goroutines[0], s.Goroutines[1], s.Goroutines[2])
			}
			idle := fmt.Sprintf("%.4f, %.0f", s.IdleCPUCores, s.IdleCtxPerSec)
			p.line(fmt.Sprintf("| %s | %s | %s | %d/%d | %.0f | %s/%s | %s/%s | %d | %.1f/%.1f/%.1f | %.1f | %s | %s | %s |",
				when(r.Time), r.Target, orDash(r.Env.Commit), s.Connected, s.Target, s.AcceptedPerSec, f2(s.Handshake.P50), f2(s.Handshake.P99),
				f2(s.Join.P50), f2(s.Join.P99), s.Failures, s.RSSBeforeMB, s.RSSIdleMB, s.RSSAfterMB, s.RSSPerConnKB, idle, g, verdict(r)))
		}
		p.line("")
	}
	if len(capa) > 0 {
		p.line("### capacity search (largest M under the verdict)\n")
		p.line("| when (UTC) | target | commit | P | probe | largest M per repetition | clients | trials |")
		p.line("|---|---|---|---|---|---|---|---|")
		for _, r := range capa {
			c := r.Capacity
			probe := "no"
			if r.Params.Probe {
				probe = "yes"
			}
			ceil := ""
			if c.Ceiling {
				ceil = " (ceiling)"
			}
			p.line(fmt.Sprintf("| %s | %s | %s | %d | %s | %s%s | %s | %d |", when(r.Time), r.Target, orDash(r.Env.Commit), c.Players, probe,
				ints(c.MaxM), ceil, ints(c.Clients), c.Trials))
		}
		p.line("")
	}
	if len(load)+len(fan)+len(storm)+len(capa) == 0 {
		p.line("(no results)")
	}
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(s string) {
	if p.err == nil {
		_, p.err = fmt.Fprintln(p.w, s)
	}
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// Median of the figures of the runs grouped by (series, clients): what the chart plots.
type point struct {
	clients          int
	p50, p99, cores  float64
	cpuPerClient     float64
	runs             int
	pass, anyFailure bool
}

// series groups the load runs (not the noisy ones) by scenario/target/probe and clients and
// takes medians.
func series(rs []result.Result) map[string][]point {
	type key struct {
		name    string
		clients int
	}
	groups := map[key][]*result.Result{}
	for i := range rs {
		r := &rs[i]
		if !isLoad(r) || r.Latency == nil || r.Clients == 0 || r.Noisy {
			continue // a noisy run's figures say more about the neighbours than the server
		}
		name := r.Scenario
		if (r.Scenario == "arena" && r.Target != "tickrelay" && r.Target != "external") || (r.Scenario == "floor" && r.Target != FloorGWS) {
			name += " (" + r.Target + ")"
		}
		if r.Params.Probe {
			name += " probe"
		}
		k := key{name, r.Params.Matches * r.Params.Players}
		groups[k] = append(groups[k], r)
	}
	out := map[string][]point{}
	for k, g := range groups {
		pt := point{clients: k.clients, runs: len(g)}
		pt.p50 = median(g, func(r *result.Result) float64 { return r.Latency.P50 })
		pt.p99 = median(g, func(r *result.Result) float64 { return r.Latency.P99 })
		var withCPU []*result.Result // runs against a server of unknown pid have no CPU figures
		for _, r := range g {
			if r.Server.CPUSeconds > 0 {
				withCPU = append(withCPU, r)
			}
		}
		pt.cores = median(withCPU, func(r *result.Result) float64 { return r.Server.CPUCores })
		pt.cpuPerClient = median(withCPU, func(r *result.Result) float64 { return r.Server.CPUMsPerClientSec })
		for _, r := range g {
			if r.Verdict.Pass {
				pt.pass = true
			} else {
				pt.anyFailure = true
			}
		}
		out[k.name] = append(out[k.name], pt)
	}
	for _, pts := range out {
		sort.Slice(pts, func(i, j int) bool { return pts[i].clients < pts[j].clients })
	}
	return out
}

func median(g []*result.Result, f func(*result.Result) float64) float64 {
	v := make([]float64, len(g))
	for i, r := range g {
		v[i] = f(r)
	}
	sort.Float64s(v)
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
