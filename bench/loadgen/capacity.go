package loadgen

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tickrelay/tickrelay/bench/internal/result"
)

// maxTrials bounds one repetition of the capacity search (not counting noisy retries).
const maxTrials = 12

// A failed trial on a noisy machine is run again after noisyWait, noisyRetries times at most.
const (
	noisyRetries = 2
	noisyWait    = 10 * time.Second
)

// capacitySettle is the pause between two trials (a variable for the tests).
var capacitySettle = time.Second

// Trial runs the load once with M matches and returns its result (already emitted).
type Trial func(ctx context.Context, m int, trial string) (*result.Result, error)

// Capacity searches the largest M (P = cfg.Players) at which the verdict holds, cfg.CapacityReps
// times: from cfg.Matches it grows M by half until a run fails (or cfg.CapacityMax is reached),
// then bisects between the last pass and the first failure until they are within 5% (at least
// one match). Every repetition after the first starts at the previous one's answer and tries
// the previous first failure next (then 10% steps either way), so it needs a few trials, not
// a new search from cfg.Matches; every repetition still decides on its own trials only. A
// failure on a noisy machine is retried. Every trial is a full run with its own result line;
// the returned line sums it up.
func Capacity(ctx context.Context, cfg *Config, trial Trial) (*result.Result, error) {
	capRes := &result.Capacity{Players: cfg.Players, StartM: cfg.Matches}
	noisy := false
	began := time.Now()
	var prev bracket
	for rep := 1; rep <= cfg.CapacityReps; rep++ {
		lo, hi := 0, 0 // largest pass, smallest failure (0: none yet)
		m := cfg.Matches
		if prev.lo > 0 {
			m = prev.lo
		}
		trials := 0
		for step := 1; step <= maxTrials; step++ {
			trials++
			var res *result.Result
			var err error
			for try := 0; ; try++ {
				res, err = trial(ctx, m, fmt.Sprintf("%d/%d", rep, step))
				capRes.Trials++
				if err != nil && ctx.Err() != nil {
					return nil, err
				}
				// a failure while other processes loaded the machine says nothing about the
				// server: wait and try the same M again (twice at most)
				if err != nil || res.Verdict.Pass || !res.Noisy || try == noisyRetries {
					break
				}
				fmt.Fprintf(os.Stderr, "loadgen: capacity M=%d failed on a noisy machine (other processes %.2f cores): again in %v\n", m, res.Other.CPUCores, noisyWait)
				if err := sleepCtx(ctx, noisyWait); err != nil {
					return nil, err
				}
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "loadgen: capacity trial M=%d: %v (counted as a failure)\n", m, err)
			} else if res.Noisy {
				noisy = true
			}
			pass := err == nil && res.Verdict.Pass
			fmt.Fprintf(os.Stderr, "loadgen: capacity rep %d step %d: M=%d (%d clients) pass=%v\n", rep, step, m, m*cfg.Players, pass)
			next, done := nextM(&lo, &hi, m, pass, cfg.CapacityMax, prev)
			if done {
				break
			}
			m = next
			_ = sleepCtx(ctx, capacitySettle) // let sockets in TIME_WAIT and the machine settle
		}
		if hi == 0 && lo >= cfg.CapacityMax {
			capRes.Ceiling = true
		}
		prev = bracket{lo: lo, hi: hi}
		capRes.TrialsPerRep = append(capRes.TrialsPerRep, trials)
		capRes.MaxM = append(capRes.MaxM, lo)
		capRes.Clients = append(capRes.Clients, lo*cfg.Players)
		capRes.Resolved = resolution(lo)
	}
	capRes.Seconds = round(time.Since(began).Seconds(), 1)
	res := newResult(cfg, &Server{})
	res.Scenario = "capacity"
	res.Params.Matches = cfg.Matches
	res.Capacity = capRes
	best := 0
	for _, v := range capRes.MaxM {
		best = max(best, v)
	}
	res.Clients = best * cfg.Players
	res.Noisy = noisy // some trial that decided the answer ran on a noisy machine
	res.Verdict = result.Verdict{Pass: best > 0, Reason: fmt.Sprintf("largest M under the verdict per repetition: %v", capRes.MaxM)}
	return res, nil
}

func resolution(lo int) int { return max(1, lo/20) }

// bracket is a finished repetition's largest pass and smallest failure (0: none).
type bracket struct{ lo, hi int }

// nextM updates the search bounds with the outcome of M=m and returns the next M, or done.
// hint, the previous repetition's bracket, picks the next M while this one's is still open.
func nextM(lo, hi *int, m int, pass bool, ceiling int, hint bracket) (int, bool) {
	if pass {
		*lo = max(*lo, m)
	} else if *hi == 0 || m < *hi {
		*hi = m
	}
	switch {
	case *hi == 0: // still growing
		if *lo >= ceiling {
			return 0, true
		}
		if hint.hi > *lo && hint.hi <= ceiling {
			return hint.hi, false // where the previous repetition failed first
		}
		if hint.lo > 0 { // past the previous answer: 10% steps
			return min(ceiling, max(*lo+1, *lo*11/10)), false
		}
		return min(ceiling, max(*lo+1, *lo*3/2)), false
	case *lo == 0: // failing from the start: halve (10% lower when a previous answer is known)
		if *hi <= 1 {
			return 0, true
		}
		if hint.lo > 0 {
			return max(1, min(*hi-1, *hi*9/10)), false
		}
		return *hi / 2, false
	}
	if *hi-*lo <= resolution(*lo) {
		return 0, true
	}
	return (*lo + *hi) / 2, false
}
