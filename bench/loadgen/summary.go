package loadgen

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tickrelay/tickrelay/bench/internal/result"
)

// Summary is a run's result for people: a few lines.
func Summary(r *result.Result) string {
	var b strings.Builder
	verdict := "FAIL"
	if r.Verdict.Pass {
		verdict = "PASS"
	}
	noisy := ""
	if r.Noisy {
		noisy = fmt.Sprintf(" [NOISY: other processes used %.2f cores]", r.Other.CPUCores)
	}
	fmt.Fprintf(&b, "== %s against %s (commit %s, %s, %d CPUs)%s\n", r.Scenario, r.Target, orDash(r.Env.Commit), r.Env.GoVersion, r.Env.NumCPU, noisy)
	switch {
	case r.Capacity != nil:
		c := r.Capacity
		fmt.Fprintf(&b, "   capacity (P=%d): largest M per repetition %v = clients %v, in %d trials %v, %.0f s%s\n",
			c.Players, c.MaxM, c.Clients, c.Trials, c.TrialsPerRep, c.Seconds, map[bool]string{true: " (hit -capacity-max)", false: ""}[c.Ceiling])
	case r.Matchmaking != nil:
		m := r.Matchmaking
		fmt.Fprintf(&b, "   %d tickets at %.0f/s over %d instance(s) (arrivals over %.1fs), %d failed; %.0f tickets per server CPU second; placement %v\n",
			m.Tickets, r.Params.Rate, m.Instances, m.ArrivalS, m.Failed, m.TicketsPerCoreS, m.Placement)
		qs := make([]string, 0, len(m.Queues))
		for q := range m.Queues {
			qs = append(qs, q)
		}
		sort.Strings(qs)
		for _, q := range qs {
			x := m.Queues[q]
			fmt.Fprintf(&b, "   %-6s %v; %d matches of %.1f; time-to-match p50 %.1f p99 %.1f max %.1f ms (client-observed p50 %.1f p99 %.1f); skill spread p50 %.0f p99 %.0f max %.0f\n",
				q, m.Outcomes[q], x.Matches, x.PlayersPerMatch, x.TimeToMatch.P50, x.TimeToMatch.P99, x.TimeToMatch.Max,
				x.Observed.P50, x.Observed.P99, x.SpreadP50, x.SpreadP99, x.SpreadMax)
		}
		fmt.Fprintf(&b, "   server CPU %.2fs (%.2f cores) over %.1fs\n", r.Server.CPUSeconds, r.Server.CPUCores, r.WindowS)
	case r.Storm != nil:
		s := r.Storm
		fmt.Fprintf(&b, "   %d/%d connected in %.2fs: %.0f accepted/s; handshake p50 %.2f p99 %.2f ms; auth+join p50 %.2f p99 %.2f ms\n",
			s.Connected, s.Target, s.OpenSeconds, s.AcceptedPerSec, s.Handshake.P50, s.Handshake.P99, s.Join.P50, s.Join.P99)
		fmt.Fprintf(&b, "   server RSS %.1f MB before, %.1f MB idle, %.1f MB after: %.1f KB per idle connection; CPU %.2fs\n",
			s.RSSBeforeMB, s.RSSIdleMB, s.RSSAfterMB, s.RSSPerConnKB, r.Server.CPUSeconds)
		fmt.Fprintf(&b, "   idle phase: server %.4f cores (%.3f µs per connection-second), %.0f context switches/s\n",
			s.IdleCPUCores, s.IdleCPUUsPerConnS, s.IdleCtxPerSec)
		if s.Goroutines != nil {
			fmt.Fprintf(&b, "   goroutines before/during/after: %d / %d / %d\n", s.Goroutines[0], s.Goroutines[1], s.Goroutines[2])
		}
	case r.Cluster != nil:
		clusterSummary(&b, r)
	case r.IdleMatches != nil:
		im := r.IdleMatches
		fmt.Fprintf(&b, "   %d matches created, %d still there after the %.1fs window\n", im.Created, im.Alive, r.WindowS)
		fmt.Fprintf(&b, "   server CPU %.3fs = %.4f cores = %.3f µs per match-second; %.0f context switches/s; RSS %.1f MB\n",
			r.Server.CPUSeconds, r.Server.CPUCores, im.CPUUsPerMatchS, r.Server.CtxPerSec, r.Server.RSSEndMB)
	default:
		p := r.Params
		probe := ""
		if p.Probe {
			probe = ", probe"
		}
		if r.Scenario == ScenarioFanout {
			fmt.Fprintf(&b, "   1 sender + %d spectators, %.1fs window%s\n", p.Spectators, r.WindowS, probe)
		} else {
			fmt.Fprintf(&b, "   %d matches × %d players = %d clients (%d measuring), %.1fs window%s\n", p.Matches, p.Players, r.Clients, r.Measuring, r.WindowS, probe)
		}
		if l := r.Latency; l != nil {
			fmt.Fprintf(&b, "   latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  (n=%d, unacked %d, delta gaps %d)\n",
				l.P50, l.P90, l.P99, l.P999, l.Max, l.Count, r.Unacked, r.DeltaGaps)
		}
		if s := r.Spread; s != nil && s.Count > 0 {
			fmt.Fprintf(&b, "   fan-out spread ms (receipt after the tick's first): p50 %.2f  p99 %.2f  max %.2f\n", s.P50, s.P99, s.Max)
		}
		sv := r.Server
		fmt.Fprintf(&b, "   server CPU %.2fs = %.2f cores = %.4f ms per client-second", sv.CPUSeconds, sv.CPUCores, sv.CPUMsPerClientSec)
		if sv.CPUUsPerMsg > 0 {
			fmt.Fprintf(&b, " (%.2f µs/msg, %.1f ms/MB)", sv.CPUUsPerMsg, sv.CPUMsPerMB)
		}
		if sv.UserSeconds > 0 {
			fmt.Fprintf(&b, "; user-space %.2fs", sv.UserSeconds)
			if sv.UserUsPerMsg > 0 {
				fmt.Fprintf(&b, " = %.2f µs/msg", sv.UserUsPerMsg)
			}
		}
		b.WriteString("\n")
		if sv.CtxPerSec > 0 || sv.SysSeconds > 0 {
			fmt.Fprintf(&b, "   server user %.2fs / system %.2fs; context switches %d voluntary + %d involuntary = %.0f/s = %.4f per message (both ways); read+write calls %.2f + %.2f per message\n",
				sv.UserSeconds, sv.SysSeconds, sv.CtxVoluntary, sv.CtxInvoluntary, sv.CtxPerSec, sv.CtxPerMsg, sv.ReadCallsPerMsg, sv.WriteCallsPerMsg)
		}
		if sc := sv.Syscalls; sc != nil {
			if sc.Err != "" {
				fmt.Fprintf(&b, "   syscalls: %s\n", sc.Err)
			} else {
				fmt.Fprintf(&b, "   syscalls (perf): %d = %.0f/s = %.3f per message; %s\n", sc.Total, sc.PerSec, sc.PerMsg, byName(sc.ByName))
			}
		}
		fmt.Fprintf(&b, "   server RSS %.1f MB end, %.1f MB peak (HWM %.1f MB), %d threads", sv.RSSEndMB, sv.RSSPeakMB, sv.HWMMB, sv.Threads)
		if sv.Goroutines > 0 {
			fmt.Fprintf(&b, ", %d goroutines", sv.Goroutines)
		}
		if sv.TickP99Ms != nil {
			fmt.Fprintf(&b, ", tick p99 %.3f ms", *sv.TickP99Ms)
		}
		b.WriteString("\n")
		t := r.Traffic
		fmt.Fprintf(&b, "   in %.0f msg/s %.0f B/s (avg %.1f B; %.0f B per client-s, %.0f on the wire); out %.0f msg/s %.0f B/s (avg %.1f B)\n",
			t.MsgsInPerSec, t.BytesInPerSec, t.AvgMsgIn, t.BytesInPerClientSec, t.WireBytesInPerClientSec, t.MsgsOutPerSec, t.BytesOutPerSec, t.AvgMsgOut)
		f := r.Failures
		fmt.Fprintf(&b, "   failed setups %d, failed joins %d, short matches %d, dropped %d, late sends %d, skipped sends %d\n",
			f.FailedSetup, f.FailedJoins, f.JoinCheckFailed, f.Dropped, f.LateSends, f.SkippedSends)
	}
	if r.Server.Note != "" {
		fmt.Fprintf(&b, "   note: %s\n", r.Server.Note)
	}
	if r.Server.ReadErr != "" {
		fmt.Fprintf(&b, "   /proc: %s\n", r.Server.ReadErr)
	}
	if r.Capacity == nil {
		fmt.Fprintf(&b, "   load generator CPU %.2f cores (%.4f ms per client-second, %.2f µs per message); other processes %.2f cores; kernel threads and unattributed softirq %.2f cores\n",
			r.Loadgen.CPUCores, r.Loadgen.CPUMsPerClientSec, r.Loadgen.CPUUsPerMsg, r.Other.CPUCores, r.Kernel.CPUCores)
	}
	if len(r.Failures.Errors) > 0 {
		keys := make([]string, 0, len(r.Failures.Errors))
		for k := range r.Failures.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i == 8 {
				fmt.Fprintf(&b, "   … %d more kinds of error\n", len(keys)-8)
				break
			}
			fmt.Fprintf(&b, "   error ×%d: %s\n", r.Failures.Errors[k], k)
		}
	}
	if r.Check != nil {
		for _, it := range r.Check.Items {
			fmt.Fprintf(&b, "   check %s\n", it)
		}
	}
	fmt.Fprintf(&b, "   verdict: %s — %s\n", verdict, r.Verdict.Reason)
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// byName lists perf's per-call counts, largest first.
func byName(m map[string]int64) string {
	names := make([]string, 0, len(m))
	for n, v := range m {
		if v > 0 {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return m[names[i]] > m[names[j]] })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}
