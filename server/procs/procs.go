// Package procs is tickrelay's GOMAXPROCS policy, chosen by measurement (bench/RESULTS.md).
//
// Go's default is one P per core. On a small machine serving many light connections that is
// the expensive choice: every input that wakes a goroutine also wakes an idle P's thread to
// look for work, which finds none and goes back to sleep, and on a VM each of those sleeps and
// wake-ups costs far more than the work itself. With one P the same load needs a fraction of
// the context switches and less CPU (arena 50×10 on 2 cores: see RESULTS.md). One P caps the
// process at about one core, though, so the policy runs with one P while the process uses less
// than Up cores and raises GOMAXPROCS to Max as soon as it uses more, then comes back to one
// after DownAfter readings in a row under Down. CPU use alone misses a process that does not
// get its core (other processes on the machine take it): then goroutines wait to run, so the
// policy also raises GOMAXPROCS when the 99th percentile of the runtime's scheduling latency
// (/sched/latencies:seconds, the time goroutines spent runnable before running) exceeds
// LatencyUp in two readings in a row, and only comes back to one P while it is under half of that.
// A process started with GOMAXPROCS in its environment, or with a fixed --gomaxprocs, is left
// alone.
//
// Goroutines: Start runs one goroutine that reads the process's CPU time every Interval
// (getrusage: one system call) until Stop.
package procs

import (
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config tunes the policy; zero fields take the defaults.
type Config struct {
	Max       int           // Ps when busy; default runtime.NumCPU()
	Interval  time.Duration // between readings; default 500ms
	Up        float64       // cores used above which Max Ps are used; default 0.75
	Down      float64       // cores used below which one P is used again…; default 0.45
	DownAfter int           // …after this many readings in a row; default 6 (3 s)
	LatencyUp time.Duration // scheduling latency p99 above which Max Ps are used; default 5ms

	// CPU returns the process's CPU time so far (default: getrusage RUSAGE_SELF, user+system).
	CPU func() time.Duration
	// SchedLatency returns the runtime's cumulative scheduling-latency histogram (default:
	// runtime/metrics /sched/latencies:seconds; nil: not available).
	SchedLatency func() *metrics.Float64Histogram
	// SetProcs sets GOMAXPROCS (default runtime.GOMAXPROCS).
	SetProcs func(int)
	// Ticks, when set, replaces the Interval ticker (tests step the policy with it).
	Ticks <-chan time.Time
}

func (c *Config) defaults() {
	if c.Max <= 0 {
		c.Max = runtime.NumCPU()
	}
	if c.Interval <= 0 {
		c.Interval = 500 * time.Millisecond
	}
	if c.Up <= 0 {
		c.Up = 0.75
	}
	if c.Down <= 0 {
		c.Down = 0.45
	}
	if c.DownAfter <= 0 {
		c.DownAfter = 6
	}
	if c.LatencyUp <= 0 {
		c.LatencyUp = 5 * time.Millisecond
	}
	if c.CPU == nil {
		c.CPU = rusageCPU
	}
	if c.SchedLatency == nil {
		c.SchedLatency = schedLatency
	}
	if c.SetProcs == nil {
		c.SetProcs = func(n int) { runtime.GOMAXPROCS(n) }
	}
}

// Policy is a running policy.
type Policy struct {
	cfg     Config
	procs   atomic.Int64
	changes atomic.Uint64
	low     int // readings in a row under Down (policy goroutine only)
	waited  int // readings in a row with the scheduling latency over LatencyUp (policy goroutine only)

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Start sets one P and starts adjusting. On a one-core machine (Max 1) it only sets one P.
func Start(cfg Config) *Policy {
	cfg.defaults()
	p := &Policy{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	p.set(1)
	p.changes.Store(0)
	if cfg.Max <= 1 {
		close(p.done)
		return p
	}
	go p.run()
	return p
}

// Procs is the GOMAXPROCS the policy set last.
func (p *Policy) Procs() int { return int(p.procs.Load()) }

// Changes is how many times the policy changed GOMAXPROCS.
func (p *Policy) Changes() uint64 { return p.changes.Load() }

// Stop ends the policy's goroutine; GOMAXPROCS stays where it is.
func (p *Policy) Stop() {
	p.once.Do(func() {
		if p.cfg.Max > 1 {
			close(p.stop)
		}
	})
	<-p.done
}

func (p *Policy) set(n int) {
	p.cfg.SetProcs(n)
	p.procs.Store(int64(n))
	p.changes.Add(1)
}

func (p *Policy) run() {
	defer close(p.done)
	ticks := p.cfg.Ticks
	if ticks == nil {
		t := time.NewTicker(p.cfg.Interval)
		defer t.Stop()
		ticks = t.C
	}
	lastCPU, lastAt := p.cfg.CPU(), time.Now()
	lastLat := p.cfg.SchedLatency()
	for {
		select {
		case <-p.stop:
			return
		case now := <-ticks:
			cpu := p.cfg.CPU()
			lat := p.cfg.SchedLatency()
			if wall := now.Sub(lastAt); wall > 0 {
				p.step(float64(cpu-lastCPU)/float64(wall), p99Between(lastLat, lat))
			}
			lastCPU, lastAt, lastLat = cpu, now, lat
		}
	}
}

// step takes one reading: cores used since the last one, and the scheduling latency p99 over
// the same time (0 when unknown), and sets GOMAXPROCS accordingly.
func (p *Policy) step(cores float64, latP99 time.Duration) {
	switch cur := p.Procs(); {
	case cur == 1 && cores > p.cfg.Up:
		p.low, p.waited = 0, 0
		p.set(p.cfg.Max)
	case cur == 1 && latP99 > p.cfg.LatencyUp:
		// two readings in a row: one GC cycle or burst alone does not move it
		if p.waited++; p.waited >= 2 {
			p.low, p.waited = 0, 0
			p.set(p.cfg.Max)
		}
	case cur > 1 && cores < p.cfg.Down && latP99 <= p.cfg.LatencyUp/2:
		p.low++
		if p.low >= p.cfg.DownAfter {
			p.low = 0
			p.set(1)
		}
	default:
		p.low, p.waited = 0, 0
	}
}

func schedLatency() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

// p99Between is the 99th percentile of the samples added between two readings of a cumulative
// histogram (the upper bound of its bucket; 0 if there is none or no sample).
func p99Between(a, b *metrics.Float64Histogram) time.Duration {
	if b == nil || (a != nil && len(a.Counts) != len(b.Counts)) {
		return 0
	}
	var total uint64
	d := make([]uint64, len(b.Counts))
	for i, c := range b.Counts {
		if a != nil {
			c -= a.Counts[i]
		}
		d[i] = c
		total += c
	}
	if total == 0 {
		return 0
	}
	want := total - total/100 // the sample at the 99th percentile
	var seen uint64
	for i, c := range d {
		seen += c
		if seen >= want {
			hi := b.Buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = b.Buckets[i]
			}
			return time.Duration(hi * float64(time.Second))
		}
	}
	return 0
}

func rusageCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
