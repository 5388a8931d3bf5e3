// Package procs is tickrelay's GOMAXPROCS policy, chosen by measurement (bench/RESULTS.md).
//
// Go's default is one P per core. On a small machine serving many light connections that is
// the expensive choice: every input that wakes a goroutine also wakes an idle P's thread to
// look for work, which finds none and goes back to sleep, and on a VM each of those sleeps and
// wake-ups costs far more than the work itself. With one P the same load needs a fraction of
// the context switches and less CPU (arena 50×10 on 2 cores: see RESULTS.md). One P caps the
// process at about one core, though, so the policy runs with one P while the process uses less
// than Up cores and raises GOMAXPROCS to Max as soon as it uses more, then comes back to one
// after DownAfter readings in a row under Down. A process started with GOMAXPROCS in its
// environment, or with a fixed --gomaxprocs, is left alone.
//
// Goroutines: Start runs one goroutine that reads the process's CPU time every Interval
// (getrusage: one system call) until Stop.
package procs

import (
	"runtime"
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

	// CPU returns the process's CPU time so far (default: getrusage RUSAGE_SELF, user+system).
	CPU func() time.Duration
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
	if c.CPU == nil {
		c.CPU = rusageCPU
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
	for {
		select {
		case <-p.stop:
			return
		case now := <-ticks:
			cpu := p.cfg.CPU()
			if wall := now.Sub(lastAt); wall > 0 {
				p.step(float64(cpu-lastCPU) / float64(wall))
			}
			lastCPU, lastAt = cpu, now
		}
	}
}

// step takes one reading (cores used since the last one) and sets GOMAXPROCS accordingly.
func (p *Policy) step(cores float64) {
	switch cur := p.Procs(); {
	case cur == 1 && cores > p.cfg.Up:
		p.low = 0
		p.set(p.cfg.Max)
	case cur > 1 && cores < p.cfg.Down:
		p.low++
		if p.low >= p.cfg.DownAfter {
			p.low = 0
			p.set(1)
		}
	default:
		p.low = 0
	}
}

func rusageCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
