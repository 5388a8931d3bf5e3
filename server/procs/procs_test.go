package procs

import (
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// fake is a process whose CPU use the test sets, with a GOMAXPROCS it records. Each reading
// of its CPU time is signalled on read, so the test adds a second's CPU only once the policy
// has read the one before.
type fake struct {
	mu    sync.Mutex
	cpu   time.Duration
	ticks chan time.Time
	read  chan struct{}
	now   time.Time
	set   chan int
}

func newFake() *fake {
	return &fake{ticks: make(chan time.Time), read: make(chan struct{}, 1), now: time.Now(), set: make(chan int, 16)}
}

func (f *fake) config() Config {
	return Config{Max: 2, SchedLatency: func() *metrics.Float64Histogram { return nil }, CPU: func() time.Duration {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.read <- struct{}{}
		return f.cpu
	}, SetProcs: func(n int) { f.set <- n }, Ticks: f.ticks}
}

// second advances the clock by a second in which the process used cores, and waits until the
// policy has read it.
func (f *fake) second(cores float64) {
	f.mu.Lock()
	f.cpu += time.Duration(cores * float64(time.Second))
	f.mu.Unlock()
	f.now = f.now.Add(time.Second)
	f.ticks <- f.now
	<-f.read
}

func (f *fake) expect(t *testing.T, want int) {
	t.Helper()
	select {
	case got := <-f.set:
		if got != want {
			t.Fatalf("GOMAXPROCS set to %d, want %d", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("GOMAXPROCS not set to %d", want)
	}
}

// step: up at once over Up, down only after DownAfter readings in a row under Down.
func TestPolicyStep(t *testing.T) {
	var set []int
	p := &Policy{cfg: Config{Max: 2, SetProcs: func(n int) { set = append(set, n) }}}
	p.cfg.defaults()
	p.set(1)
	for _, c := range []float64{0.3, 0.7, 0.75} {
		p.step(c, 4*time.Millisecond)
	}
	if p.Procs() != 1 {
		t.Fatalf("raised at or under Up: %v", set)
	}
	p.step(0.9, 0)
	if p.Procs() != 2 {
		t.Fatalf("not raised over Up: %v", set)
	}
	for range 5 {
		p.step(0.2, 0)
	}
	p.step(0.6, 0) // a busy reading breaks the run of low ones
	for range 5 {
		p.step(0.2, 0)
	}
	p.step(0.2, 3*time.Millisecond) // goroutines waiting: not yet back to one P either
	for range 5 {
		p.step(0.2, 2*time.Millisecond)
	}
	if p.Procs() != 2 {
		t.Fatalf("lowered before six quiet readings in a row: %v", set)
	}
	p.step(0.2, 0)
	if p.Procs() != 1 || len(set) != 3 || p.Changes() != 3 {
		t.Fatalf("set %v, procs %d, changes %d", set, p.Procs(), p.Changes())
	}
	// little CPU but goroutines waiting to run (the process does not get its core): up
	p.step(0.3, 6*time.Millisecond) // once: a GC cycle, say
	p.step(0.3, 0)
	p.step(0.3, 6*time.Millisecond)
	if p.Procs() != 1 {
		t.Fatalf("raised for single readings of a 6 ms scheduling latency: %v", set)
	}
	p.step(0.3, 6*time.Millisecond) // the second in a row
	if p.Procs() != 2 {
		t.Fatalf("not raised for a 6 ms scheduling latency twice: %v", set)
	}
}

// The policy's goroutine reads the CPU at every tick and sets GOMAXPROCS up, then down.
func TestPolicyRun(t *testing.T) {
	f := newFake()
	p := Start(f.config())
	defer p.Stop()
	f.expect(t, 1) // starts with one P
	<-f.read       // its first reading
	f.now = time.Now()
	f.second(0.9)
	f.expect(t, 2)
	for range 6 {
		f.second(0.1)
	}
	f.expect(t, 1)
	if p.Procs() != 1 || p.Changes() != 2 {
		t.Fatalf("procs %d changes %d", p.Procs(), p.Changes())
	}
}

func TestPolicyOneCore(t *testing.T) {
	f := newFake()
	cfg := f.config()
	cfg.Max = 1
	p := Start(cfg)
	f.expect(t, 1)
	p.Stop() // no goroutine was started: returns at once // no goroutine to stop: returns at once
}

// The real defaults: getrusage reads this process's CPU, GOMAXPROCS is really set.
func TestPolicyDefaults(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	p := Start(Config{Interval: time.Millisecond})
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS %d after Start", got)
	}
	if rusageCPU() <= 0 {
		t.Fatal("getrusage gave no CPU time")
	}
	p.Stop()
}

func TestP99Between(t *testing.T) {
	b := []float64{0, 0.0001, 0.001, 0.01, math.Inf(1)}
	a := &metrics.Float64Histogram{Buckets: b, Counts: []uint64{100, 0, 0, 0}}
	c := &metrics.Float64Histogram{Buckets: b, Counts: []uint64{1090, 0, 20, 0}} // 990 fast, 20 in (1ms, 10ms]
	if got := p99Between(a, c); got != 10*time.Millisecond {
		t.Fatalf("p99 %v, want the (1ms, 10ms] bucket's bound", got)
	}
	c.Counts[2] = 5 // 5 of 995 slow: under 1%
	if got := p99Between(a, c); got != 100*time.Microsecond {
		t.Fatalf("p99 %v, want the first bucket's bound", got)
	}
	if got := p99Between(c, c); got != 0 {
		t.Fatalf("no new samples: %v", got)
	}
	if schedLatency() == nil {
		t.Fatal("the runtime has no /sched/latencies:seconds")
	}
}
