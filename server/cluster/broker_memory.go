package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MemoryNetwork connects in-process brokers, one per simulated instance, with the delivery
// semantics of Redis Pub/Sub: at-most-once, in order per subscriber unless a fault delays a
// message. Tests inject drops and delays with SetFault and cut a broker off with Cut.
type MemoryNetwork struct {
	mu      sync.Mutex
	brokers map[*MemoryBroker]struct{}
	fault   func(from, channel string, msg []byte) Fault
}

// Fault is what SetFault's function decides for one delivery (one message to one broker).
type Fault struct {
	Drop  bool          // the message is lost (counted as an injected drop)
	Delay time.Duration // delivered after Delay; a delayed message may arrive after later ones
}

// NewMemoryNetwork returns an empty network.
func NewMemoryNetwork() *MemoryNetwork {
	return &MemoryNetwork{brokers: map[*MemoryBroker]struct{}{}}
}

// SetFault sets the function consulted for every delivery (nil: none). from is the
// publishing broker's name.
func (n *MemoryNetwork) SetFault(f func(from, channel string, msg []byte) Fault) {
	n.mu.Lock()
	n.fault = f
	n.mu.Unlock()
}

// MemoryQueueLen is how many messages a memory broker queues for its handlers before it drops
// (counted under DropQueue), like a Redis client's bounded receive channel.
const MemoryQueueLen = 4096

// Broker attaches a new broker named name (the instance) to the network. m may be nil.
func (n *MemoryNetwork) Broker(name string, m *Metrics) *MemoryBroker {
	b := &MemoryBroker{net: n, name: name, metrics: m, subs: map[string]Handler{},
		queue: make(chan delivery, MemoryQueueLen), done: make(chan struct{})}
	n.mu.Lock()
	n.brokers[b] = struct{}{}
	n.mu.Unlock()
	m.setHealthy(true)
	b.wg.Add(1)
	go b.run()
	return b
}

type delivery struct {
	channel string
	msg     []byte
	hook    bool // run the OnReconnect hooks instead
}

// MemoryBroker is one instance's broker on a MemoryNetwork.
type MemoryBroker struct {
	net     *MemoryNetwork
	name    string
	metrics *Metrics
	queue   chan delivery // overflow: drop and count (DropQueue)
	done    chan struct{}
	wg      sync.WaitGroup

	mu     sync.Mutex // guards the fields below
	subs   map[string]Handler
	hooks  []func()
	cut    error // non-nil while cut off
	closed bool
}

var _ Broker = (*MemoryBroker)(nil)

func (b *MemoryBroker) run() {
	defer b.wg.Done()
	for {
		select {
		case <-b.done:
			return
		case d := <-b.queue:
			if d.hook {
				b.mu.Lock()
				hooks := append([]func(){}, b.hooks...)
				b.mu.Unlock()
				for _, fn := range hooks {
					fn()
				}
				continue
			}
			b.mu.Lock()
			h := b.subs[d.channel]
			b.mu.Unlock()
			if h != nil {
				b.metrics.received(len(d.msg))
				h(d.channel, d.msg)
			}
		}
	}
}

// Publish implements Broker.
func (b *MemoryBroker) Publish(ctx context.Context, channel string, msg []byte) error {
	if len(msg) > DefaultMaxMessage {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(msg))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	b.mu.Lock()
	closed, cut := b.closed, b.cut
	b.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case cut != nil:
		return fmt.Errorf("%w: %w", ErrUnavailable, cut)
	}
	b.metrics.published(len(msg))
	n := b.net
	n.mu.Lock()
	fault := n.fault
	targets := make([]*MemoryBroker, 0, len(n.brokers))
	for t := range n.brokers {
		targets = append(targets, t)
	}
	n.mu.Unlock()
	for _, t := range targets {
		if !t.subscribed(channel) {
			continue
		}
		var f Fault
		if fault != nil {
			f = fault(b.name, channel, msg)
		}
		if f.Drop {
			t.metrics.Dropped(DropInjected)
			continue
		}
		d := delivery{channel: channel, msg: append([]byte(nil), msg...)}
		if f.Delay > 0 {
			time.AfterFunc(f.Delay, func() { t.enqueue(d) })
			continue
		}
		t.enqueue(d)
	}
	return nil
}

func (b *MemoryBroker) subscribed(channel string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.subs[channel]
	return ok && b.cut == nil && !b.closed
}

func (b *MemoryBroker) enqueue(d delivery) {
	b.mu.Lock()
	down := b.cut != nil || b.closed
	b.mu.Unlock()
	if down {
		b.metrics.Dropped(DropCut)
		return
	}
	select {
	case b.queue <- d:
	default:
		b.metrics.Dropped(DropQueue)
	}
}

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(_ context.Context, channel string, h Handler) error {
	if h == nil {
		return fmt.Errorf("%w: nil handler", ErrInvalid)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.subs[channel] = h
	if b.cut != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, b.cut)
	}
	return nil
}

// Unsubscribe implements Broker.
func (b *MemoryBroker) Unsubscribe(_ context.Context, channel string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	delete(b.subs, channel)
	return nil
}

// OnReconnect implements Broker.
func (b *MemoryBroker) OnReconnect(fn func()) {
	b.mu.Lock()
	b.hooks = append(b.hooks, fn)
	b.mu.Unlock()
}

// Health implements Broker.
func (b *MemoryBroker) Health() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case b.cut != nil:
		return fmt.Errorf("%w: %w", ErrUnavailable, b.cut)
	}
	return nil
}

// Cut simulates a lost connection: until Restore, Health reports reason, publishes fail and
// messages to this broker are lost.
func (b *MemoryBroker) Cut(reason error) {
	if reason == nil {
		reason = errors.New("connection cut")
	}
	b.mu.Lock()
	b.cut = reason
	b.mu.Unlock()
	b.metrics.setHealthy(false)
}

// Restore ends a Cut: subscriptions are live again and the OnReconnect hooks run (after any
// message queued before the cut).
func (b *MemoryBroker) Restore() {
	b.mu.Lock()
	was := b.cut != nil
	b.cut = nil
	b.mu.Unlock()
	if !was {
		return
	}
	b.metrics.setHealthy(true)
	b.metrics.reconnected()
	select {
	case b.queue <- delivery{hook: true}:
	case <-b.done:
	}
}

// Close implements Broker: it detaches the broker and stops its goroutine.
func (b *MemoryBroker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.net.mu.Lock()
	delete(b.net.brokers, b)
	b.net.mu.Unlock()
	close(b.done)
	b.wg.Wait()
	return nil
}

// PublishBatch implements BatchPublisher.
func (b *MemoryBroker) PublishBatch(ctx context.Context, msgs []Message) error {
	for _, m := range msgs {
		if err := b.Publish(ctx, m.Channel, m.Msg); err != nil {
			return err
		}
	}
	return nil
}
