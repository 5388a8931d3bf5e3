package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickrelay/tickrelay/bench/internal/result"
	"github.com/tickrelay/tickrelay/server/cluster"
)

// Faults arena-cluster can inject into its window (-fault), the ones of issue 10.
const (
	FaultRedisKill    = "redis-kill9"       // kill -9 Redis, restart it on the same port after -fault-for
	FaultRedisStop    = "redis-sigstop"     // SIGSTOP Redis for -fault-for, then SIGCONT
	FaultDebugSleep   = "redis-debug-sleep" // DEBUG SLEEP <-fault-for>
	FaultClientKill   = "redis-client-kill" // CLIENT KILL TYPE pubsub (every instance's subscriber)
	FaultOBL          = "redis-obl"         // client-output-buffer-limit "pubsub 64kb 32kb 1" for -fault-for
	FaultInstanceKill = "instance-kill9"    // kill -9 instance n2 (the owner of half the matches)
)

var faults = []string{FaultRedisKill, FaultRedisStop, FaultDebugSleep, FaultClientKill, FaultOBL, FaultInstanceKill}

func checkFault(c *Config) error {
	if c.Fault == "" {
		return nil
	}
	ok := false
	for _, f := range faults {
		ok = ok || f == c.Fault
	}
	if !ok {
		return fmt.Errorf("unknown -fault %q (%s)", c.Fault, strings.Join(faults, ", "))
	}
	if c.FaultAt < 0 || c.FaultFor < 0 || c.FaultAt+c.FaultFor+4*time.Second > c.Duration {
		return fmt.Errorf("-fault-at %v + -fault-for %v + 4 s of recovery must fit in -duration %v", c.FaultAt, c.FaultFor, c.Duration)
	}
	return nil
}

// inject waits until cfg.FaultAt into the window, injects cfg.Fault and measures what issue 10
// asks: when each instance's /readyz turned degraded, and how long after the fault ended every
// remote player was playing again (an input sent after the end acked), or for instance-kill9
// how long until the players relayed to the dead owner got END.
func (rig *clusterRig) inject(ctx context.Context, cms []*clusterMatch, rs runs, start time.Time) *result.Fault {
	cfg := rig.cfg
	if cfg.Fault == "" {
		return nil
	}
	if sleepCtx(ctx, time.Until(start.Add(cfg.FaultAt))) != nil {
		return nil
	}
	f := &result.Fault{Kind: cfg.Fault, AtS: cfg.FaultAt.Seconds(), ForS: cfg.FaultFor.Seconds()}
	t0 := time.Now()
	watchCtx, stopWatch := context.WithCancel(ctx)
	degraded := rig.watchHealth(watchCtx, t0)
	redis := rig.redis
	hold := func() { _ = sleepCtx(ctx, cfg.FaultFor) }
	switch cfg.Fault {
	case FaultRedisKill:
		_ = redis.Kill()
		hold()
		if err := redis.Restart(); err != nil {
			rs[0][0].countErr("redis restart: " + err.Error())
		}
	case FaultRedisStop:
		_ = redis.Freeze()
		hold()
		_ = redis.Thaw()
	case FaultDebugSleep:
		secs := strconv.FormatFloat(cfg.FaultFor.Seconds(), 'f', 3, 64)
		_, _ = redis.DoTimeout(cfg.FaultFor+5*time.Second, "DEBUG", "SLEEP", secs)
	case FaultClientKill:
		f.ForS = 0
		if _, err := redis.Do("CLIENT", "KILL", "TYPE", "pubsub"); err != nil {
			rs[0][0].countErr("client kill: " + err.Error())
		}
	case FaultOBL:
		before := pubsubIDs(redis.Do)
		_, _ = redis.Do("CONFIG", "SET", "client-output-buffer-limit", "pubsub 64kb 32kb 1")
		rig.flood(ctx, cfg.FaultFor)
		_, _ = redis.Do("CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60")
		f.SubscriberCuts = countCut(before, pubsubIDs(redis.Do))
	case FaultInstanceKill:
		return rig.killInstance(ctx, cms, rs, f, t0, stopWatch, degraded)
	}
	end := time.Now()
	f.RecoveredMs = rig.recovery(ctx, cms, end)
	_ = sleepCtx(ctx, time.Until(end.Add(500*time.Millisecond)))
	stopWatch()
	f.DegradedAfterMs = <-degraded
	return f
}

// flood publishes junk on instance n1's node channel for d so that, with the 64 kb limit,
// Redis cuts n1's subscriber connection; n1 decodes and drops what reaches it
// (tickrelay_relay_bad_messages_total). Each message is 256 KB, four times the hard limit:
// Redis appends a published message to the subscriber's output buffer whole, before it writes
// any of it, so every message crosses the limit however fast the subscriber reads. (A stream
// of small messages only crossed it when the subscriber fell behind, i.e. on a busy machine:
// on an idle one the fault did not bite.) One message per 100 ms: at most 30 in a 3 s fault,
// and a subscriber that reconnects within the fault is cut again.
func (rig *clusterRig) flood(ctx context.Context, d time.Duration) {
	ch := cluster.Names{}.Node(rig.nodes[0])
	junk := strings.Repeat("x", 256<<10)
	end := time.Now().Add(d)
	rc := redis.NewClient(&redis.Options{Addr: rig.redis.Addr, Protocol: 2, DisableIdentity: true})
	defer rc.Close()
	for time.Now().Before(end) && ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = rc.Publish(pctx, ch, junk).Err()
		cancel()
		if sleepCtx(ctx, min(100*time.Millisecond, time.Until(end))) != nil {
			return
		}
	}
}

// pubsubIDs lists the ids of Redis' subscriber connections.
func pubsubIDs(do func(...string) (string, error)) map[string]bool {
	out := map[string]bool{}
	list, err := do("CLIENT", "LIST", "TYPE", "pubsub")
	if err != nil {
		return out
	}
	for _, f := range strings.Fields(list) {
		if strings.HasPrefix(f, "id=") {
			out[f] = true
		}
	}
	return out
}

// countCut is how many subscriber connections of before are gone after.
func countCut(before, after map[string]bool) int {
	n := 0
	for id := range before {
		if !after[id] {
			n++
		}
	}
	return n
}

// watchHealth polls every live instance's /readyz every 50 ms; the channel yields, per
// instance, when it first reported degraded (ms after t0, −1 never) once ctx ends.
func (rig *clusterRig) watchHealth(ctx context.Context, t0 time.Time) <-chan []float64 {
	out := make(chan []float64, 1)
	res := make([]float64, len(rig.inst))
	var wg sync.WaitGroup
	for i, s := range rig.inst {
		res[i] = -1
		wg.Add(1)
		go func(i int, s *Server) {
			defer wg.Done()
			hc := &http.Client{Timeout: time.Second}
			for ctx.Err() == nil {
				if isDegraded(ctx, hc, s.Addr) {
					res[i] = float64(time.Since(t0).Milliseconds())
					return
				}
				_ = sleepCtx(ctx, 50*time.Millisecond)
			}
		}(i, s)
	}
	go func() { wg.Wait(); out <- res }()
	return out
}

// isDegraded: /readyz (where an instance reports its bus) says "degraded", or does not answer.
func isDegraded(ctx context.Context, hc *http.Client, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return ctx.Err() == nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return strings.Contains(string(body), "degraded")
}

// recovery waits until every joined remote player on a live instance has an ack for an input
// sent before end (so for one sent after the fault ended, at the latest the next one): the ms
// that took, −1 if not within 10 s.
func (rig *clusterRig) recovery(ctx context.Context, cms []*clusterMatch, end time.Time) float64 {
	type want struct {
		c   *client
		seq uint32
	}
	var ws []want
	for _, cm := range cms {
		for i, c := range cm.clients {
			if cm.inst[i] == cm.owner || !c.joined.Load() || c.role != roleAck || !rig.inst[cm.inst[i]].Alive() {
				continue
			}
			var top uint32
			for k := range c.ring {
				top = max(top, c.ring[k].seq.Load())
			}
			ws = append(ws, want{c, top + 1})
		}
	}
	for time.Since(end) < 10*time.Second && ctx.Err() == nil {
		done := true
		for _, w := range ws {
			w.c.mu.Lock()
			acked := w.c.lastAck >= w.seq || w.c.closing.Load()
			w.c.mu.Unlock()
			if !acked {
				done = false
				break
			}
		}
		if done {
			return float64(time.Since(end).Milliseconds())
		}
		_ = sleepCtx(ctx, 20*time.Millisecond)
	}
	return -1
}

// killInstance kill -9s instance n2 and waits until every player on another instance of a
// match n2 owned has a definitive outcome within 10 s: END (the game cannot be restored), or
// playing again on the instance that claimed the match (an input sent after the kill acked).
func (rig *clusterRig) killInstance(ctx context.Context, cms []*clusterMatch, rs runs, f *result.Fault,
	t0 time.Time, stopWatch context.CancelFunc, degraded <-chan []float64) *result.Fault {
	victim := 1
	type want struct {
		c   *client
		seq uint32
	}
	var ws []want
	for _, cm := range cms {
		if cm.owner != victim {
			continue
		}
		for i, c := range cm.clients {
			if cm.inst[i] != victim && c.joined.Load() {
				var top uint32
				for k := range c.ring {
					top = max(top, c.ring[k].seq.Load())
				}
				ws = append(ws, want{c, top + 1})
			}
		}
	}
	rig.mu.Lock()
	rig.killed[victim] = true
	rig.mu.Unlock()
	_ = syscall.Kill(rig.inst[victim].PID, syscall.SIGKILL)
	f.LostEndsExpect, f.LostEndMs = len(ws), -1
	for time.Since(t0) < 12*time.Second && ctx.Err() == nil {
		ends := 0
		for i := range rs {
			if i != victim {
				ends += rs[i][1].errors()["END received"]
			}
		}
		followed := 0
		for _, w := range ws {
			w.c.mu.Lock()
			if w.c.lastAck >= w.seq {
				followed++
			}
			w.c.mu.Unlock()
		}
		f.LostEnds, f.Followed = ends, followed
		if ends+followed >= len(ws) {
			f.LostEndMs = float64(time.Since(t0).Milliseconds())
			break
		}
		_ = sleepCtx(ctx, 20*time.Millisecond)
	}
	stopWatch()
	f.DegradedAfterMs = <-degraded
	return f
}
