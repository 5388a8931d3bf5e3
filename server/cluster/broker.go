package cluster

import (
	"context"
	"time"
)

// Broker is at-most-once publish/subscribe between instances (see the package doc for the
// delivery contract).
type Broker interface {
	// Publish sends msg to channel's subscribers on every instance. It returns within the
	// broker's deadline (≤ 2 s) or the context's, whichever is first; errors wrap
	// ErrUnavailable, ErrTooLarge or ErrClosed. Publish does not keep msg.
	Publish(ctx context.Context, channel string, msg []byte) error
	// Subscribe delivers channel's messages to h on a goroutine of the broker; h must not block
	// (hand off without blocking, count drops) and may keep msg. Subscribing again replaces h.
	// The subscription survives reconnects; if Redis is unreachable now, Subscribe returns an
	// error wrapping ErrUnavailable but keeps the subscription, made when Redis is back.
	Subscribe(ctx context.Context, channel string, h Handler) error
	// Unsubscribe stops channel's deliveries (a message in flight may still arrive).
	Unsubscribe(ctx context.Context, channel string) error
	// OnReconnect registers fn, called (on a broker goroutine, must not block) after a lost
	// connection was re-established and every channel resubscribed: the messages in between
	// were lost, subscribers repair. Also called when the broker itself dropped messages
	// because a subscriber connection was cut (for example by an output buffer limit).
	OnReconnect(fn func())
	// Health is nil when the broker works, else an error saying why it is degraded.
	Health() error
	Close() error
}

// Handler receives a channel's messages. See Broker.Subscribe.
type Handler func(channel string, msg []byte)

// Broker limits and timings shared by the implementations (zero values pick these).
const (
	DefaultMaxMessage     = 1 << 20 // bytes a message may have
	DefaultTimeout        = 2 * time.Second
	DefaultMaxBackoff     = time.Second
	DefaultHealthInterval = 500 * time.Millisecond
)

// Message is one message of a batch.
type Message struct {
	Channel string
	Msg     []byte
}

// BatchPublisher is a Broker that can publish several messages in one round trip (Redis: a
// pipeline). The messages go out in order; on an error some of them may have been published.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, msgs []Message) error
}
