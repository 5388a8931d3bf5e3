package game

import (
	"sync"
	"time"
)

// Clock is the match runtime's only source of time. Production uses RealClock; tests use
// ManualClock and step matches tick by tick with no sleeps.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker whose first tick comes after phase+d, then every d: a match
	// created at t0 with stagger phase p ticks at t0+p+d, t0+p+2d, … (with either clock).
	NewTicker(d, phase time.Duration) Ticker
}

// pausable is implemented by tickers a sleeping match may stop (RealClock's). A ManualClock
// ticker is not: under it a match never sleeps, so tests step it exactly as before.
type pausable interface {
	Pause()
	Resume()
}

// Ticker delivers ticks on C. Like time.Ticker, a slow receiver misses ticks rather than
// queueing them (RealClock); ManualClock blocks until the tick is received.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time { return time.Now() }

func (RealClock) NewTicker(d, phase time.Duration) Ticker {
	if phase <= 0 {
		return &realTicker{t: time.NewTicker(d), period: d}
	}
	// The first tick comes after phase+d, then the period becomes d (see Ticked). The match
	// receives straight from the time.Ticker's channel: no relay goroutine, one wake-up a tick.
	return &realTicker{t: time.NewTicker(phase + d), d: d, period: d}
}

// realTicker is a time.Ticker whose first period may differ (the match's stagger phase).
type realTicker struct {
	t      *time.Ticker
	d      time.Duration // non-zero until the first tick: the period to switch to
	period time.Duration
}

func (t *realTicker) C() <-chan time.Time { return t.t.C }
func (t *realTicker) Stop()               { t.t.Stop() }

// Pause stops the ticks (a sleeping match); Resume restarts them at the full period.
func (t *realTicker) Pause() { t.t.Stop() }

// Resume restarts a paused ticker: the next tick comes one period from now.
func (t *realTicker) Resume() {
	period := t.d
	if period == 0 {
		period = t.period
	}
	t.t.Reset(period)
	t.d = 0
}

// Ticked is called by the match after each tick it receives.
func (t *realTicker) Ticked() {
	if t.d != 0 {
		t.t.Reset(t.d)
		t.d = 0
	}
}

// ManualClock is a Clock for tests: time moves only when Advance is called. Advance delivers
// every due tick synchronously (it blocks until each ticker's receiver has taken it), so after
// Advance returns every match has at least started the tick; a following request to the match
// (for example Match.Inspect) is served after that tick completes.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*manualTicker
}

// NewManualClock returns a ManualClock at a fixed instant.
func NewManualClock() *ManualClock {
	return &ManualClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *ManualClock) NewTicker(d, phase time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTicker{c: make(chan time.Time), d: d, next: c.now.Add(phase + d), stop: make(chan struct{}), clock: c}
	c.tickers = append(c.tickers, t)
	return t
}

// Advance moves time forward by d, delivering due ticks in time order.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var due *manualTicker
		for _, t := range c.tickers {
			if !t.next.After(end) && (due == nil || t.next.Before(due.next)) {
				due = t
			}
		}
		if due == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		at := due.next
		c.now = at
		due.next = at.Add(due.d)
		c.mu.Unlock()
		select {
		case due.c <- at:
		case <-due.stop:
		}
	}
}

type manualTicker struct {
	c     chan time.Time
	d     time.Duration
	next  time.Time
	stop  chan struct{}
	once  sync.Once
	clock *ManualClock
}

func (t *manualTicker) C() <-chan time.Time { return t.c }

func (t *manualTicker) Stop() {
	t.once.Do(func() {
		close(t.stop)
		c := t.clock
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.tickers {
			if x == t {
				c.tickers = append(c.tickers[:i], c.tickers[i+1:]...)
				break
			}
		}
	})
}
