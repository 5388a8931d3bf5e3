package game

import (
	"sync"
	"time"
)

// Clock is the match runtime's only source of time. Production uses RealClock; tests use
// ManualClock and step matches tick by tick with no sleeps.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker whose first tick comes after phase+d, then every d.
	NewTicker(d, phase time.Duration) Ticker
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
	t := &realTicker{c: make(chan time.Time, 1), stop: make(chan struct{})}
	go t.run(d, phase)
	return t
}

type realTicker struct {
	c    chan time.Time
	stop chan struct{}
	once sync.Once
}

func (t *realTicker) C() <-chan time.Time { return t.c }
func (t *realTicker) Stop()               { t.once.Do(func() { close(t.stop) }) }

func (t *realTicker) run(d, phase time.Duration) {
	if phase > 0 {
		timer := time.NewTimer(phase)
		select {
		case <-timer.C:
		case <-t.stop:
			timer.Stop()
			return
		}
	}
	tk := time.NewTicker(d)
	defer tk.Stop()
	for {
		select {
		case now := <-tk.C:
			select {
			case t.c <- now:
			default: // the match is behind: drop the tick, as time.Ticker does
			}
		case <-t.stop:
			return
		}
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
