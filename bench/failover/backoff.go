package failover

import (
	"math/rand/v2"
	"net/url"
	"strings"
	"time"
)

// FullJitter is AWS's "full jitter": a delay uniform in [0, min(cap, base·2^attempt)).
func FullJitter(attempt int, base, cap time.Duration) time.Duration {
	if base <= 0 {
		return 0
	}
	ceiling := cap
	if attempt < 40 && base<<attempt > 0 && base<<attempt < cap {
		ceiling = base << attempt
	}
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling)))
}

// MovedAddr is the host:port to reconnect to after a close 4003 MOVED whose reason is the base
// URL of the instance that owns the match now: only http(s)/ws(s) URLs without credentials;
// "" for anything else (then any configured instance).
func MovedAddr(reason string) string {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 2048 {
		return ""
	}
	u, err := url.Parse(reason)
	if err != nil || u.User != nil || u.Host == "" || u.Hostname() == "" {
		return ""
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
		return u.Host
	}
	return ""
}
