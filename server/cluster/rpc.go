package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// pubJob is one message to publish. A shard's goroutine publishes its jobs in order, so every
// message about one match (all in the same shard) reaches the broker in the order it was
// queued. Overflow policy: a full shard drops the job and counts it; the receiving side sees
// the sequence gap (match channel) or the request times out (node channel) and repairs.
type pubJob struct {
	channel string
	msg     []byte
	at      time.Time // when it was queued (relay latency)
}

type recvJob struct {
	channel string
	msg     []byte
	at      time.Time
}

// send queues msg for channel on match id's shard; false when it was dropped.
func (b *Bus) send(id, channel string, msg []byte) bool {
	select {
	case b.pub[b.shard(id)] <- pubJob{channel: channel, msg: msg, at: time.Now()}:
		return true
	default:
		b.m.drops.WithLabelValues("publish_queue").Inc()
		return false
	}
}

// publishBatch is how many queued messages one publisher sends in one round trip when the
// broker can (BatchPublisher): one PUBLISH round trip per message capped an instance at a few
// hundred publishes per second on a busy CPU (docs/SCALING.md).
const publishBatch = 128

func (b *Bus) publisher(q chan pubJob) {
	defer b.wg.Done()
	bp, _ := b.cfg.Broker.(BatchPublisher)
	batch := make([]pubJob, 0, publishBatch)
	msgs := make([]Message, 0, publishBatch)
	publish := func(js []pubJob) {
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.RPCTimeout)
		var err error
		if bp != nil && len(js) > 1 {
			msgs = msgs[:0]
			for _, j := range js {
				msgs = append(msgs, Message{Channel: j.channel, Msg: j.msg})
			}
			err = bp.PublishBatch(ctx, msgs)
		} else {
			err = b.cfg.Broker.Publish(ctx, js[0].channel, js[0].msg)
		}
		cancel()
		for _, j := range js {
			if err != nil {
				b.m.drops.WithLabelValues("publish_error").Inc()
				continue
			}
			b.m.published(len(j.msg))
			b.m.latency.Observe(time.Since(j.at).Seconds())
		}
	}
	// next takes j and whatever else is queued, up to publishBatch, in order.
	next := func(j pubJob) []pubJob {
		batch = append(batch[:0], j)
		for len(batch) < publishBatch {
			select {
			case j := <-q:
				batch = append(batch, j)
			default:
				return batch
			}
		}
		return batch
	}
	for {
		select {
		case <-b.stop:
			// What was queued before Close (the END frames of matches that just stopped) still
			// goes out.
			for {
				select {
				case j := <-q:
					publish(next(j))
				default:
					return
				}
			}
		case j := <-q:
			publish(next(j))
		}
	}
}

// onMessage is the broker handler of every channel the bus subscribes to. It never blocks:
// the message goes to its match's receiver shard, or is dropped and counted (the sequence gap
// is repaired like a lost message).
func (b *Bus) onMessage(id string) Handler {
	s := b.shard(id)
	return func(channel string, msg []byte) {
		select {
		case b.recv[s] <- recvJob{channel: channel, msg: msg, at: time.Now()}:
		default:
			b.m.drops.WithLabelValues("receive_queue").Inc()
		}
	}
}

// onNodeMessage is the handler of this node's channel: requests are handed to the shard of
// the match they are about, answers to their caller.
func (b *Bus) onNodeMessage(channel string, msg []byte) {
	var m wmsg
	if err := decodeWmsg(msg, &m); err != nil {
		b.m.bad.Inc()
		return
	}
	if m.Kind == kAnswer {
		b.mu.Lock()
		c := b.calls[m.RPC]
		delete(b.calls, m.RPC)
		b.mu.Unlock()
		if c != nil {
			c <- m // buffered, 1
		}
		return
	}
	select {
	case b.recv[b.shard(m.Match)] <- recvJob{channel: channel, msg: msg, at: time.Now()}:
	default:
		b.m.drops.WithLabelValues("receive_queue").Inc()
	}
}

func (b *Bus) receiver(q chan recvJob) {
	defer b.wg.Done()
	for {
		select {
		case <-b.stop:
			return
		case j := <-q:
			b.m.received(len(j.msg))
			if j.channel == b.names.Node(b.node) {
				b.handleRequest(j.msg)
			} else {
				b.handleMatchMessage(j.channel, j.msg)
			}
		}
	}
}

// call sends request m to node and waits for its answer (ctx, bounded by RPCTimeout).
func (b *Bus) call(ctx context.Context, node string, m wmsg) (wmsg, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.RPCTimeout)
	defer cancel()
	m.RPC = b.nextID.Add(1)
	m.Node = b.node
	c := make(chan wmsg, 1)
	b.mu.Lock()
	b.calls[m.RPC] = c
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.calls, m.RPC)
		b.mu.Unlock()
	}()
	if !b.send(m.Match, b.names.Node(node), appendWmsg(nil, &m)) {
		return wmsg{}, fmt.Errorf("%w: relay queue full", server.ErrUnavailable)
	}
	select {
	case a := <-c:
		if a.Code != 0 {
			return a, &server.CodeError{Code: protocol.ErrorCode(a.Code), Msg: a.Str}
		}
		return a, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return wmsg{}, fmt.Errorf("%w: %s did not answer", server.ErrTimeout, node)
		}
		return wmsg{}, ctx.Err()
	}
}

// answer replies to request req (from its sender's node channel) with err's code, or ok.
func (b *Bus) answer(req *wmsg, err error, bin []byte) {
	if req.RPC == 0 {
		return
	}
	a := wmsg{Kind: kAnswer, RPC: req.RPC, Match: req.Match, Bin: bin}
	if err != nil {
		a.Code, a.Str = uint32(server.CodeOf(err)), err.Error()
	}
	b.send(req.Match, b.names.Node(req.Node), appendWmsg(nil, &a))
}

// request sends a one-way request to node (inputs, leaves, syncs...); false if dropped.
func (b *Bus) request(node string, m wmsg) bool {
	m.Node = b.node
	return b.send(m.Match, b.names.Node(node), appendWmsg(nil, &m))
}
