package procs

import (
	"runtime"
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
	return Config{Max: 2, CPU: func() time.Duration {
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
		p.step(c)
	}
	if p.Procs() != 1 {
		t.Fatalf("raised at or under Up: %v", set)
	}
	p.step(0.9)
	if p.Procs() != 2 {
		t.Fatalf("not raised over Up: %v", set)
	}
	for range 5 {
		p.step(0.2)
	}
	p.step(0.6) // a busy reading breaks the run of low ones
	for range 5 {
		p.step(0.2)
	}
	if p.Procs() != 2 {
		t.Fatalf("lowered before six low readings in a row: %v", set)
	}
	p.step(0.2)
	if p.Procs() != 1 || len(set) != 3 || p.Changes() != 3 {
		t.Fatalf("set %v, procs %d, changes %d", set, p.Procs(), p.Changes())
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
