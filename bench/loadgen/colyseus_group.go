package loadgen

import (
	"fmt"
	"sync"
	"time"

	"github.com/tickrelay/tickrelay/bench/internal/procstat"
)

// colyseusGroup is the Colyseus run's client processes: -colyseus-procs Node load generators,
// each with its share of the rooms (one JavaScript thread each, so that the clients are not
// limited to one core). Their counters, latency samples and CPU are summed.
type colyseusGroup []*colyseusClients

func startColyseusGroup(cfg *Config, node, addr string) (colyseusGroup, error) {
	n := max(1, min(cfg.ColyseusProcs, cfg.Matches))
	var g colyseusGroup
	for i := range n {
		rooms := cfg.Matches / n
		if i < cfg.Matches%n {
			rooms++
		}
		c, err := startColyseusClients(cfg, node, addr, rooms, i)
		if err != nil {
			g.stop()
			return nil, err
		}
		g = append(g, c)
	}
	return g, nil
}

func (g colyseusGroup) pids() []int {
	p := make([]int, len(g))
	for i, c := range g {
		p[i] = c.pid()
	}
	return p
}

// setup waits for every process's setup and sums them.
func (g colyseusGroup) setup(timeout time.Duration) (colyseusSetup, error) {
	var sum colyseusSetup
	sum.Errors = map[string]int{}
	for i, c := range g {
		s, err := c.setup(timeout)
		if err != nil {
			return sum, err
		}
		if i == 0 {
			sum.Node, sum.Versions = s.Node, s.Versions
		}
		sum.Clients += s.Clients
		sum.Joined += s.Joined
		sum.Measuring += s.Measuring
		sum.FailedSetup += s.FailedSetup
		sum.FailedJoins += s.FailedJoins
		sum.JoinCheckFailed += s.JoinCheckFailed
		sum.SetupMS = max(sum.SetupMS, s.SetupMS)
		for k, v := range s.Errors {
			sum.Errors[k] += v
		}
	}
	return sum, nil
}

// ask sends cmd to every process first, then hands each one's reply (kind reply) to add.
func ask[T any](g colyseusGroup, cmd map[string]any, reply string, timeout time.Duration, add func(T)) error {
	for _, c := range g {
		if err := c.send(cmd); err != nil {
			return err
		}
	}
	for _, c := range g {
		var v T
		if err := c.next(reply, timeout, &v); err != nil {
			return err
		}
		add(v)
	}
	return nil
}

// mark sends the mark to every process first, then sums their answers.
func (g colyseusGroup) mark(end bool, timeout time.Duration) (colyseusMark, error) {
	sum := colyseusMark{End: end}
	err := ask(g, map[string]any{"cmd": "mark", "end": end}, "mark", timeout, func(m colyseusMark) {
		sum.MsgsIn += m.MsgsIn
		sum.BytesIn += m.BytesIn
		sum.WireIn += m.WireIn
		sum.MsgsOut += m.MsgsOut
		sum.BytesOut += m.BytesOut
		sum.Late += m.Late
		sum.Skipped += m.Skipped
	})
	return sum, err
}

// cpu is the processes' CPU time, summed.
func (g colyseusGroup) cpu() (procstat.ProcCPU, error) {
	var sum procstat.ProcCPU
	for _, c := range g {
		p, err := procstat.ReadProc(c.pid())
		if err != nil {
			return sum, fmt.Errorf("/proc of the colyseus load generator %d: %w", c.pid(), err)
		}
		sum.UTime += p.UTime
		sum.STime += p.STime
		sum.CUTime += p.CUTime
		sum.CSTime += p.CSTime
		sum.Threads += p.Threads
	}
	return sum, nil
}

// drain asks every process to drain, then merges their finals.
func (g colyseusGroup) drain(d, timeout time.Duration) (colyseusFinal, error) {
	sum := colyseusFinal{Errors: map[string]int{}}
	err := ask(g, map[string]any{"cmd": "drain", "ms": d.Milliseconds()}, "final", timeout, func(f colyseusFinal) {
		sum.InputsInWindow += f.InputsInWindow
		sum.Unacked += f.Unacked
		sum.Dropped += f.Dropped
		for k, v := range f.Errors {
			sum.Errors[k] += v
		}
		sum.LatNS = append(sum.LatNS, f.LatNS...)
	})
	return sum, err
}

func (g colyseusGroup) stop() {
	var wg sync.WaitGroup
	for _, c := range g {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop() }()
	}
	wg.Wait()
}
