package cluster

import (
	"sync/atomic"
	"time"
)

// The lease guard keeps a stale owner from sending anything (split brain, issue 12).
//
// An owner cut off from Redis for longer than its lease may have lost its matches to another
// instance. When the process itself was not running (SIGSTOP, a VM pause), the first thing it
// would do on waking is tick every match and publish the ticks before its heartbeat learns
// that the leases are gone. So a watchdog beats every guardBeat; a gap of more than half a
// LeaseTTL between two beats means the process was stopped: every match is held (no tick:
// game.RegistryConfig.Hold, through server.LeaseHolder) until a heartbeat round that started
// after the gap has refreshed the leases, and the matches whose lease is lost have stopped
// with END MOVED. Their relayed recipients' instances drop the older epoch's frames anyway.
//
// A Redis that is merely unreachable (the process runs) holds nothing: local matches keep
// ticking through an outage, as before (no other instance can claim them while Redis is down
// for everyone; an owner partitioned alone keeps serving its local players until Redis is back
// and its refresh reports the lease lost, then END MOVED).
type leaseGuard struct {
	aliveAt atomic.Int64  // unix ns of the watchdog's last beat
	held    atomic.Int64  // unix ns of the gap that holds the matches (0: none)
	wake    chan struct{} // asks the loop for a heartbeat round now
}

// guardBeat is the watchdog's period.
const guardBeat = 100 * time.Millisecond

// Holding implements server.LeaseHolder.
func (b *Bus) Holding() bool {
	if b.guard.held.Load() != 0 {
		return true
	}
	return time.Now().UnixNano()-b.guard.aliveAt.Load() > int64(b.cfg.LeaseTTL/2)
}

func (b *Bus) watchdog() {
	defer b.wg.Done()
	t := time.NewTicker(guardBeat)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			now := time.Now().UnixNano()
			if gap := now - b.guard.aliveAt.Load(); gap > int64(b.cfg.LeaseTTL/2) {
				b.guard.held.Store(now) // before aliveAt moves: Holding never reads a gap as none
				b.log.Warn("lease guard: this process did not run for a while; matches held until the leases are checked",
					"gap", time.Duration(gap).Round(time.Millisecond))
				select {
				case b.guard.wake <- struct{}{}:
				default:
				}
			}
			b.guard.aliveAt.Store(now)
		}
	}
}

// release ends a hold once a heartbeat round that started at started (unix ns) is done.
func (b *Bus) releaseHold(started int64) {
	if h := b.guard.held.Load(); h != 0 && started >= h && b.guard.held.CompareAndSwap(h, 0) {
		b.log.Info("lease guard: leases checked, matches tick again")
	}
}
