package server

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimitedKeys bounds the memory of a keyLimiter: past it, keys whose bucket has refilled
// are forgotten, and if none has, a new key is refused (an attacker with that many addresses is
// throttled as a whole rather than allowed to grow the map).
const maxLimitedKeys = 100_000

// keyLimiter is a token bucket per key (a client IP, a user id). Safe for concurrent use. A
// rate below zero turns it off.
type keyLimiter struct {
	mu    sync.Mutex
	rate  rate.Limit
	burst int
	keys  map[string]*rate.Limiter
	now   func() time.Time
}

func newKeyLimiter(perSecond float64, burst int) *keyLimiter {
	return &keyLimiter{rate: rate.Limit(perSecond), burst: burst, keys: map[string]*rate.Limiter{}, now: time.Now}
}

// allow takes one token for key; when there is none it says how long until there will be.
func (l *keyLimiter) allow(key string) (bool, time.Duration) {
	if l == nil || l.rate < 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.keys[key]
	if lim == nil {
		if len(l.keys) >= maxLimitedKeys {
			l.sweepLocked(now)
			if len(l.keys) >= maxLimitedKeys {
				return false, time.Second
			}
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.keys[key] = lim
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets keys whose bucket is full again (they would behave like new ones).
func (l *keyLimiter) sweep() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(l.now())
}

func (l *keyLimiter) sweepLocked(now time.Time) {
	for k, lim := range l.keys {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.keys, k)
		}
	}
}

// retryAfter is a Retry-After header value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}
