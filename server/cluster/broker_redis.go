package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// RedisBroker is a Broker over Redis Pub/Sub: PUBLISH/SUBSCRIBE on a standalone server, or
// SPUBLISH/SSUBSCRIBE on a Redis Cluster, where it keeps one subscriber connection per shard
// owner (go-redis' ClusterClient.SSubscribe serves only the first channel's shard and
// resubscribes every channel in one command, which a cluster refuses with CROSSSLOT: see
// go-redis issues #3133, #3581, #3806) and follows slot moves.
//
// Goroutines: one receive loop per subscriber connection (broker_redis_shard.go), the health
// loop, and for a cluster the regroup loop that moves channels to their slot's new owner.
// Locks: mu (subscriptions and shards) before hmu (health state); handlers has its own
// RWMutex, read on every message; sh.mu (one shard's connection) is taken under mu or alone.
// No lock is held while a handler or hook runs.
type RedisBroker struct {
	cfg     RedisConfig
	uni     redis.UniversalClient
	cluster *redis.ClusterClient // nil for a standalone server

	hl       sync.RWMutex
	handlers map[string]Handler

	mu     sync.Mutex
	owner  map[string]*shard // channel → the shard subscribed to it
	shards map[string]*shard // node address ("" standalone) → shard
	slots  []string          // cluster: slot → master address (from CLUSTER SLOTS)
	closed bool

	hmu      sync.Mutex
	pingErr  error
	shardErr map[*shard]error
	moving   error // non-nil while channels wait to move to a new slot owner
	pending  map[int]pendingMove
	lost     bool // messages may have been lost since the last healthy moment
	hooks    []func()
	health   atomic.Pointer[error] // last evaluated Health()

	regroup chan struct{} // cluster: wake the regroup loop (buffer 1)
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

var (
	_ Broker         = (*RedisBroker)(nil)
	_ BatchPublisher = (*RedisBroker)(nil)
	_ BatchPublisher = (*MemoryBroker)(nil)
)

// NewRedisBroker connects to Redis (standalone or cluster) and starts the health loop. It does
// not fail when Redis is down: Health reports it and the broker connects when Redis is back.
func NewRedisBroker(cfg RedisConfig) (*RedisBroker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	uni, err := cfg.newUniversal()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &RedisBroker{cfg: cfg, uni: uni, handlers: map[string]Handler{}, owner: map[string]*shard{},
		shards: map[string]*shard{}, shardErr: map[*shard]error{}, pending: map[int]pendingMove{}, regroup: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
	b.cluster, _ = uni.(*redis.ClusterClient)
	var ok error
	b.health.Store(&ok)
	b.ping() // so that Health is right from the start
	// A cluster client loads the command table on its first keyed call: now, not under the
	// first burst of SPUBLISH.
	if b.cluster != nil {
		ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		_ = b.cluster.Exists(ctx, DefaultPrefix+":warmup").Err()
		cancel()
	}
	b.wg.Add(1)
	go b.healthLoop()
	if b.cluster != nil {
		b.wg.Add(1)
		go b.regroupLoop()
	}
	return b, nil
}

// Publish implements Broker. While the health PING fails it fails at once (a frozen Redis
// must not hold every publisher for the whole deadline); a subscriber connection being
// re-established does not stop publishing.
func (b *RedisBroker) Publish(ctx context.Context, channel string, msg []byte) error {
	if len(msg) > b.cfg.MaxMessage {
		return fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(msg), b.cfg.MaxMessage)
	}
	if b.ctx.Err() != nil {
		return ErrClosed
	}
	if err := b.unreachable(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	var err error
	if b.cluster != nil {
		err = b.cluster.SPublish(ctx, channel, msg).Err()
	} else {
		err = b.uni.Publish(ctx, channel, msg).Err()
	}
	if err != nil {
		b.cfg.Metrics.redisError("publish")
		return fmt.Errorf("%w: publish: %w", ErrUnavailable, err)
	}
	b.cfg.Metrics.published(len(msg))
	return nil
}

// PublishBatch implements BatchPublisher: one pipeline (a cluster client splits it by shard),
// one round trip instead of len(msgs); the same fail-fast and deadline as Publish.
func (b *RedisBroker) PublishBatch(ctx context.Context, msgs []Message) error {
	for _, m := range msgs {
		if len(m.Msg) > b.cfg.MaxMessage {
			return fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(m.Msg), b.cfg.MaxMessage)
		}
	}
	if b.ctx.Err() != nil {
		return ErrClosed
	}
	if err := b.unreachable(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	p := b.uni.Pipeline()
	for _, m := range msgs {
		if b.cluster != nil {
			p.SPublish(ctx, m.Channel, m.Msg)
		} else {
			p.Publish(ctx, m.Channel, m.Msg)
		}
	}
	if _, err := p.Exec(ctx); err != nil {
		b.cfg.Metrics.redisError("publish")
		return fmt.Errorf("%w: publish batch: %w", ErrUnavailable, err)
	}
	for _, m := range msgs {
		b.cfg.Metrics.published(len(m.Msg))
	}
	return nil
}

// Subscribe implements Broker.
func (b *RedisBroker) Subscribe(ctx context.Context, channel string, h Handler) error {
	if h == nil {
		return fmt.Errorf("%w: nil handler", ErrInvalid)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.hl.Lock()
	b.handlers[channel] = h
	b.hl.Unlock()
	if b.owner[channel] != nil {
		return nil
	}
	sh := b.shardLocked(b.addrOf(channel))
	b.owner[channel] = sh
	return sh.add(ctx, channel)
}

// Unsubscribe implements Broker.
func (b *RedisBroker) Unsubscribe(ctx context.Context, channel string) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.hl.Lock()
	delete(b.handlers, channel)
	b.hl.Unlock()
	sh := b.owner[channel]
	if sh == nil {
		b.mu.Unlock()
		return nil
	}
	delete(b.owner, channel)
	err := sh.remove(ctx, channel)
	var drop *shard
	if b.cluster != nil && sh.empty() {
		drop = b.dropShardLocked(sh)
	}
	b.mu.Unlock()
	if drop != nil {
		drop.stop()
		b.evaluate()
	}
	return err
}

// handler returns channel's handler (nil if unsubscribed meanwhile).
func (b *RedisBroker) handler(channel string) Handler {
	b.hl.RLock()
	defer b.hl.RUnlock()
	return b.handlers[channel]
}

// wants reports whether channel should be subscribed on sh.
func (b *RedisBroker) wants(channel string, sh *shard) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.owner[channel] == sh
}

// addrOf is the address of the master serving channel's slot ("" standalone, or unknown yet:
// the regroup loop moves such channels once it knows the slots).
func (b *RedisBroker) addrOf(channel string) string {
	if b.cluster == nil || b.slots == nil {
		return ""
	}
	return b.slots[Slot(channel)]
}

// shardLocked returns (creating and starting) the shard of addr (b.mu held).
func (b *RedisBroker) shardLocked(addr string) *shard {
	if sh := b.shards[addr]; sh != nil {
		return sh
	}
	sh := newShard(b, addr)
	b.shards[addr] = sh
	b.hmu.Lock()
	b.shardErr[sh] = errConnecting // degraded until its subscriptions are confirmed
	b.hmu.Unlock()
	b.evaluate() // degraded now, so it runs no hook under b.mu
	b.wg.Add(1)
	go sh.run()
	return sh
}

// dropShardLocked detaches an empty shard (b.mu held); the caller stops it and evaluates
// health after releasing b.mu (its receive loop may be waiting for b.mu).
func (b *RedisBroker) dropShardLocked(sh *shard) *shard {
	delete(b.shards, sh.addr)
	sh.cancel() // before hmu: shardDown/shardUp then see it stopped and record nothing
	b.hmu.Lock()
	delete(b.shardErr, sh)
	b.hmu.Unlock()
	return sh
}

// OnReconnect implements Broker.
func (b *RedisBroker) OnReconnect(fn func()) {
	b.hmu.Lock()
	b.hooks = append(b.hooks, fn)
	b.hmu.Unlock()
}

// Health implements Broker.
func (b *RedisBroker) Health() error {
	if b.ctx.Err() != nil {
		return ErrClosed
	}
	return *b.health.Load()
}

// unreachable is the health PING's error (nil when Redis answers).
func (b *RedisBroker) unreachable() error {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	return b.pingErr
}

// evaluate recomputes Health and, on the first healthy moment after a loss, runs the hooks.
func (b *RedisBroker) evaluate() {
	b.hmu.Lock()
	err := b.pingErr
	if err == nil {
		err = b.moving
	}
	if err == nil {
		for sh, e := range b.shardErr {
			err = fmt.Errorf("%w: subscriber %s: %w", ErrUnavailable, sh.name(), e)
			break
		}
	}
	b.health.Store(&err)
	fire := err == nil && b.lost
	if fire {
		b.lost = false
	}
	hooks := append([]func(){}, b.hooks...)
	b.hmu.Unlock()
	b.cfg.Metrics.setHealthy(err == nil)
	if !fire {
		return
	}
	b.cfg.Metrics.reconnected()
	b.cfg.Logger.Info("cluster broker: Redis back, subscriptions restored", "hooks", len(hooks))
	for _, fn := range hooks {
		fn()
	}
}

// Close implements Broker: it stops every goroutine and closes the connections.
func (b *RedisBroker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	shards := make([]*shard, 0, len(b.shards))
	for _, sh := range b.shards {
		shards = append(shards, sh)
	}
	b.mu.Unlock()
	b.cancel()
	for _, sh := range shards {
		sh.stop()
	}
	b.wg.Wait()
	err := b.uni.Close()
	if errors.Is(err, redis.ErrClosed) {
		err = nil
	}
	return err
}
