package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// shard is one subscriber connection: to the standalone server, or to one cluster master and
// the channels whose slots it serves. Its receive loop (run) reconnects with capped backoff and
// resubscribes everything; the connection counts as up only when a PING sent after the
// subscriptions came back (Redis answers in order), so OnReconnect never runs early.
type shard struct {
	b      *RedisBroker
	addr   string        // "" standalone (or a cluster channel whose slot is not known yet)
	client *redis.Client // the connection's client (its own for a cluster master)
	own    bool          // client is ours to close
	token  string        // PING payload that confirms the subscriptions
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex // guards the fields below; held while (re)subscribing
	ps    *redis.PubSub
	chans map[string]struct{}
}

// subscribeBatch is how many channels one SUBSCRIBE/SSUBSCRIBE names.
const subscribeBatch = 500

// Reasons a shard is not up yet (not a loss of messages).
var (
	errNoSlots    = errors.New("waiting for the cluster's slot map")
	errConnecting = errors.New("connecting")
)

func newShard(b *RedisBroker, addr string) *shard {
	ctx, cancel := context.WithCancel(b.ctx)
	sh := &shard{b: b, addr: addr, ctx: ctx, cancel: cancel, done: make(chan struct{}), chans: map[string]struct{}{},
		token: "tickrelay-resubscribed-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	switch c := b.uni.(type) {
	case *redis.Client:
		sh.client = c
	default:
		if addr != "" {
			if o, err := b.cfg.nodeOptions(addr); err == nil {
				sh.client, sh.own = redis.NewClient(o), true
			}
		}
	}
	return sh
}

func (s *shard) name() string {
	if s.addr == "" {
		return "redis"
	}
	return s.addr
}

func (s *shard) sharded() bool { return s.b.cluster != nil }

func (s *shard) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.chans) == 0
}

// add records channel and subscribes it now if the connection is up (else on connect).
func (s *shard) add(ctx context.Context, channel string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chans[channel] = struct{}{}
	if s.ps == nil { // subscribed when the connection is (re)made
		if err := s.b.unreachable(); err != nil {
			return fmt.Errorf("%w (subscribed when Redis is back)", err)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.b.cfg.Timeout)
	defer cancel()
	var err error
	if s.sharded() {
		err = s.ps.SSubscribe(ctx, channel)
	} else {
		err = s.ps.Subscribe(ctx, channel)
	}
	if err != nil {
		s.b.cfg.Metrics.redisError("subscribe")
		return fmt.Errorf("%w: subscribe: %w", ErrUnavailable, err)
	}
	return nil
}

// remove forgets channel and unsubscribes it if connected (best effort: a later reconnect
// does not name it).
func (s *shard) remove(ctx context.Context, channel string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.chans, channel)
	if s.ps == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.b.cfg.Timeout)
	defer cancel()
	var err error
	if s.sharded() {
		err = s.ps.SUnsubscribe(ctx, channel)
	} else {
		err = s.ps.Unsubscribe(ctx, channel)
	}
	if err != nil {
		s.b.cfg.Metrics.redisError("unsubscribe")
		return fmt.Errorf("%w: unsubscribe: %w", ErrUnavailable, err)
	}
	return nil
}

// stop ends the receive loop and waits for it.
func (s *shard) stop() {
	s.cancel()
	s.mu.Lock()
	if s.ps != nil {
		_ = s.ps.Close() // unblocks a pending read
	}
	s.mu.Unlock()
	<-s.done
	if s.own {
		_ = s.client.Close()
	}
}

func (s *shard) run() {
	defer s.b.wg.Done()
	defer close(s.done)
	var backoff time.Duration
	for s.ctx.Err() == nil {
		if s.client == nil { // a cluster channel whose slot's owner is not known yet
			s.b.hmu.Lock()
			if s.ctx.Err() == nil {
				s.b.shardErr[s] = errNoSlots
			}
			s.b.hmu.Unlock()
			s.b.evaluate()
			s.b.kickRegroup()
			<-s.ctx.Done()
			return
		}
		ps, err := s.connect()
		confirmed := false
		if err == nil {
			confirmed, err = s.receive(ps)
		}
		s.mu.Lock()
		s.ps = nil
		s.mu.Unlock()
		if ps != nil {
			_ = ps.Close()
		}
		if s.ctx.Err() != nil {
			return
		}
		s.b.cfg.Metrics.redisError("subscriber")
		s.b.shardDown(s, err)
		if s.sharded() {
			s.b.kickRegroup()
		}
		if confirmed {
			backoff = 0
		}
		if backoff > 0 {
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		backoff = min(max(2*backoff, 50*time.Millisecond), s.b.cfg.MaxBackoff)
	}
}

// connect opens a subscriber connection, subscribes every channel (one command per slot for a
// cluster, at most subscribeBatch channels each) and sends the confirming PING.
func (s *shard) connect() (*redis.PubSub, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.b.cfg.Timeout)
	defer cancel()
	var ps *redis.PubSub
	if s.sharded() {
		ps = s.client.SSubscribe(ctx)
	} else {
		ps = s.client.Subscribe(ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	groups := map[int][]string{}
	for ch := range s.chans {
		k := 0
		if s.sharded() {
			k = Slot(ch)
		}
		groups[k] = append(groups[k], ch)
	}
	for _, g := range groups {
		for len(g) > 0 {
			n := min(len(g), subscribeBatch)
			var err error
			if s.sharded() {
				err = ps.SSubscribe(ctx, g[:n]...)
			} else {
				err = ps.Subscribe(ctx, g[:n]...)
			}
			if err != nil {
				_ = ps.Close()
				return nil, fmt.Errorf("subscribe: %w", err)
			}
			g = g[n:]
		}
	}
	if err := ps.Ping(ctx, s.token); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("ping: %w", err)
	}
	s.ps = ps
	return ps, nil
}

// receive reads until the connection fails; confirmed says whether it came up. Like
// centrifuge's liveness probe, it PINGs over the subscriber connection itself every
// HealthInterval: a connection that delivers nothing, not even the PONG, for silentLimit is
// presumed dead (half-open, or cut without a reset) and replaced.
func (s *shard) receive(ps *redis.PubSub) (confirmed bool, err error) {
	b := s.b
	silentLimit := 2*b.cfg.HealthInterval + b.cfg.pingTimeout()
	lastSeen, lastPing := time.Now(), time.Now()
	for {
		if time.Since(lastPing) >= b.cfg.HealthInterval {
			lastPing = time.Now()
			ctx, cancel := context.WithTimeout(s.ctx, b.cfg.pingTimeout())
			err := ps.Ping(ctx, "live")
			cancel()
			if err != nil && s.ctx.Err() == nil {
				return confirmed, fmt.Errorf("liveness ping: %w", err)
			}
		}
		if d := time.Since(lastSeen); d > silentLimit {
			return confirmed, fmt.Errorf("subscriber connection silent for %v", d.Round(time.Millisecond))
		}
		msg, err := ps.ReceiveTimeout(s.ctx, b.cfg.HealthInterval)
		if err == nil {
			lastSeen = time.Now()
		}
		if err != nil {
			if s.ctx.Err() != nil {
				return confirmed, nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			var re redis.Error
			if errors.As(err, &re) { // an error reply (MOVED after a slot move, ...): the connection is fine
				b.cfg.Metrics.redisError("subscribe")
				b.cfg.Logger.Warn("cluster broker: subscriber error reply", "node", s.name(), "err", err)
				if s.sharded() {
					slot := -1
					if f := strings.Fields(err.Error()); len(f) >= 2 && (f[0] == "MOVED" || f[0] == "ASK") {
						slot, _ = strconv.Atoi(f[1])
					}
					b.slotMoved(slot, s.addr, fmt.Errorf("%w: %s: %w", ErrUnavailable, s.name(), err))
				}
				continue
			}
			return confirmed, err
		}
		switch m := msg.(type) {
		case *redis.Message:
			if h := b.handler(m.Channel); h != nil {
				b.cfg.Metrics.received(len(m.Payload))
				h(m.Channel, []byte(m.Payload))
			}
		case *redis.Subscription:
			// The server unsubscribes a shard channel whose slot moved away: follow it.
			if (m.Kind == "sunsubscribe" || m.Kind == "unsubscribe") && b.wants(m.Channel, s) {
				b.slotMoved(Slot(m.Channel), s.addr, fmt.Errorf("%w: %s unsubscribed by %s (slot moved)", ErrUnavailable, m.Channel, s.name()))
			}
		case *redis.Pong:
			if m.Payload == s.token && !confirmed {
				confirmed = true
				b.shardUp(s)
			}
		}
	}
}

// shardDown records that sh's connection is lost (messages lost meanwhile).
func (b *RedisBroker) shardDown(sh *shard, err error) {
	b.hmu.Lock()
	if sh.ctx.Err() != nil { // dropped or closed: its state is gone
		b.hmu.Unlock()
		return
	}
	_, was := b.shardErr[sh]
	b.shardErr[sh] = err
	b.lost = true
	b.hmu.Unlock()
	if !was {
		b.cfg.Logger.Warn("cluster broker: subscriber connection lost", "node", sh.name(), "err", err)
	}
	b.evaluate()
}

// shardUp records that sh is connected with every channel subscribed.
func (b *RedisBroker) shardUp(sh *shard) {
	b.hmu.Lock()
	if sh.ctx.Err() == nil {
		delete(b.shardErr, sh)
	}
	b.hmu.Unlock()
	b.evaluate()
}

// pendingMove: a slot its old owner gave away; a slot map that still names the old owner is
// stale (the masters learn the move one after the other) until pendingMoveWait has passed.
type pendingMove struct {
	from  string
	since time.Time
}

const pendingMoveWait = 10 * time.Second

// slotMoved: some channel (of slot, -1 unknown) is no longer served by from.
func (b *RedisBroker) slotMoved(slot int, from string, reason error) {
	b.hmu.Lock()
	if slot >= 0 {
		if _, ok := b.pending[slot]; !ok {
			b.pending[slot] = pendingMove{from: from, since: time.Now()}
		}
	}
	b.moving = reason
	b.lost = true
	b.hmu.Unlock()
	b.evaluate()
	b.kickRegroup()
}

func (b *RedisBroker) kickRegroup() {
	if b.cluster == nil {
		return
	}
	select {
	case b.regroup <- struct{}{}:
	default:
	}
}

// healthLoop PINGs Redis (every master of a cluster) every HealthInterval with a deadline, so
// that a frozen or unreachable Redis turns Health degraded within HealthInterval + 1 s.
// While degraded it PINGs every degradedInterval, so that recovery is seen quickly too.
func (b *RedisBroker) healthLoop() {
	defer b.wg.Done()
	t := time.NewTimer(b.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
			b.ping()
			next := b.cfg.HealthInterval
			if b.unreachable() != nil {
				next = min(next, degradedInterval)
			}
			t.Reset(next)
		}
	}
}

const degradedInterval = 100 * time.Millisecond

func (b *RedisBroker) ping() {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.pingTimeout())
	defer cancel()
	var err error
	if b.cluster != nil {
		err = b.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() })
	} else {
		err = b.uni.Ping(ctx).Err()
	}
	if b.ctx.Err() != nil {
		return
	}
	b.hmu.Lock()
	was := b.pingErr
	if err != nil {
		b.pingErr = fmt.Errorf("%w: ping: %w", ErrUnavailable, err)
		b.lost = true
	} else {
		b.pingErr = nil
	}
	b.hmu.Unlock()
	switch {
	case err != nil && was == nil:
		b.cfg.Metrics.redisError("ping")
		b.cfg.Logger.Warn("cluster broker: Redis unreachable", "err", err)
	case err != nil:
		b.cfg.Metrics.redisError("ping")
	}
	b.evaluate()
}

// regroupLoop keeps each channel on the master that serves its slot: on a kick (slot moved,
// MOVED reply, lost shard connection) and every regroupEvery, it reads CLUSTER SLOTS and
// moves the channels whose owner changed.
func (b *RedisBroker) regroupLoop() {
	defer b.wg.Done()
	t := time.NewTicker(regroupEvery)
	defer t.Stop()
	b.kickRegroup()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		case <-b.regroup:
		}
		if err := b.doRegroup(); err != nil {
			wait := 100 * time.Millisecond
			if !errors.Is(err, errStaleSlots) {
				b.cfg.Metrics.redisError("cluster_slots")
				wait = b.cfg.MaxBackoff
			}
			select {
			case <-b.ctx.Done():
				return
			case <-time.After(wait):
			}
			b.kickRegroup()
		}
	}
}

const regroupEvery = 5 * time.Second

var errStaleSlots = errors.New("slot map not updated yet")

func (b *RedisBroker) doRegroup() error {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.Timeout)
	defer cancel()
	ranges, err := b.cluster.ClusterSlots(ctx).Result()
	if err != nil {
		return err
	}
	table := make([]string, 16384)
	for _, r := range ranges {
		if len(r.Nodes) == 0 {
			continue
		}
		for i := max(r.Start, 0); i <= r.End && i < len(table); i++ {
			table[i] = r.Nodes[0].Addr
		}
	}
	b.hmu.Lock()
	for slot, p := range b.pending {
		if table[slot] == p.from && time.Since(p.since) < pendingMoveWait {
			b.hmu.Unlock()
			return errStaleSlots
		}
	}
	clear(b.pending)
	b.hmu.Unlock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.slots = table
	moved := 0
	for ch, sh := range b.owner {
		want := table[Slot(ch)]
		if want == sh.addr {
			continue
		}
		nsh := b.shardLocked(want)
		b.owner[ch] = nsh
		_ = sh.remove(ctx, ch)
		_ = nsh.add(ctx, ch) // a shard not yet connected subscribes it on connect
		moved++
	}
	var drop []*shard
	for _, sh := range b.shards {
		if sh.empty() {
			drop = append(drop, b.dropShardLocked(sh))
		}
	}
	b.mu.Unlock()
	for _, sh := range drop {
		sh.stop()
	}
	if moved > 0 {
		b.cfg.Logger.Info("cluster broker: channels moved to their slot's new owner", "channels", moved)
	}
	b.hmu.Lock()
	b.moving = nil
	b.hmu.Unlock()
	b.evaluate()
	return nil
}
