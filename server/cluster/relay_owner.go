package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// ownerRelay is the owner's side of a local match's relay: the game.Group of every remote
// recipient of the match (members and spectators on other instances). The match reaches the
// whole group with one DeliverGroup per tick, which becomes ONE publish on the match's
// channel: the shared bytes once, plus each remote recipient's tail. Frames for one remote
// recipient (JOINED, catch-ups, END) go on the same channel, addressed to it (see wire.go).
//
// Goroutines: DeliverGroup and the proxies' Deliver/Detached run on the match goroutine; the
// request handlers (receiver shard) and the liveness loop add and drop proxies. mu guards
// seq (every message is numbered and queued under it, so numbers follow the publish order),
// last and proxies.
type ownerRelay struct {
	b       *Bus
	m       *game.Match
	id      string
	channel string
	epoch   uint32 // the match's: every message carries it, receivers drop older epochs' (failover)

	mu      sync.Mutex
	seq     uint64
	last    time.Time // when the last message was queued
	proxies map[proxyKey]*proxySink
	buf     []wireTail
	closed  bool
}

type proxyKey struct {
	node string
	sink uint64
}

// proxySink stands for one remote recipient in the match: its frames are relayed to
// (node, sink).
type proxySink struct {
	r        *ownerRelay
	key      proxyKey
	pid      atomic.Uint32 // the seat it holds (0: none yet, or a spectator)
	watching atomic.Bool
}

func (p *proxySink) Group() game.Group { return p.r }

// RelayedVia names the instance the member or spectator is connected to (operator views).
func (p *proxySink) RelayedVia() string { return p.key.node }

func (p *proxySink) Deliver(shared, tail []byte) {
	f := shared
	if len(tail) > 0 {
		f = append(append(make([]byte, 0, len(shared)+len(tail)), shared...), tail...)
	}
	p.r.publish(&wmsg{Kind: kFrame, Node: p.key.node, Sink: p.key.sink, Bin: f})
}

func (p *proxySink) Detached(_ string, pid uint32, reason protocol.LeaveReason) {
	p.r.publish(&wmsg{Kind: kDetach, Node: p.key.node, Sink: p.key.sink, PID: pid, A: uint32(reason)})
	p.r.drop(p.key)
}

// DeliverGroup implements game.Group: one publish per tick for every remote recipient.
func (r *ownerRelay) DeliverGroup(shared []byte, tails []game.GroupTail) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.buf = r.buf[:0]
	for _, t := range tails {
		if p, ok := t.Sink.(*proxySink); ok {
			r.buf = append(r.buf, wireTail{Node: p.key.node, Sink: p.key.sink, Tail: t.Tail})
		}
	}
	r.seq++
	r.last = time.Now()
	msg := appendTick(make([]byte, 0, len(shared)+16+len(r.buf)*16), r.seq, shared, r.buf)
	clear(r.buf)
	r.b.send(r.id, r.channel, msg)
	r.b.m.ticks.Inc()
}

// publish numbers and queues a message on the match channel.
func (r *ownerRelay) publish(m *wmsg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed && m.Kind != kFrame && m.Kind != kDetach {
		return
	}
	r.seq++
	r.last = time.Now()
	m.Seq, m.Match, m.C = r.seq, r.id, r.epoch
	r.b.send(r.id, r.channel, appendWmsg(nil, m))
}

// beat tells the subscribers the last sequence number when nothing was sent for a while, so
// that a lost last message is noticed (and repaired) even in a quiet match.
func (r *ownerRelay) beat() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || time.Since(r.last) < r.b.cfg.Liveness || len(r.proxies) == 0 {
		return
	}
	r.last = time.Now()
	m := wmsg{Kind: kBeat, Seq: r.seq, Match: r.id, C: r.epoch}
	r.b.send(r.id, r.channel, appendWmsg(nil, &m))
}

// proxy returns (creating) the proxy of (node, sink).
func (r *ownerRelay) proxy(node string, sink uint64) *proxySink {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := proxyKey{node, sink}
	p := r.proxies[k]
	if p == nil {
		p = &proxySink{r: r, key: k}
		r.proxies[k] = p
	}
	return p
}

func (r *ownerRelay) find(node string, sink uint64) *proxySink {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proxies[proxyKey{node, sink}]
}

func (r *ownerRelay) drop(k proxyKey) {
	r.mu.Lock()
	delete(r.proxies, k)
	r.mu.Unlock()
}

// close stops relaying (the match ended; its last frames, END and detaches, were queued).
func (r *ownerRelay) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

// dropDeadNodes treats the recipients on instances that left the registry as dropped
// connections: their seats are kept for the reconnect grace (their players may come back
// through another instance and resume).
func (r *ownerRelay) dropDeadNodes() {
	r.mu.Lock()
	var dead []*proxySink
	for k, p := range r.proxies {
		if !r.b.alive(k.node) {
			dead = append(dead, p)
			delete(r.proxies, k)
		}
	}
	r.mu.Unlock()
	for _, p := range dead {
		if pid := p.pid.Load(); pid != 0 {
			r.m.Leave(pid, p, protocol.LeaveDropped)
		}
		if p.watching.Load() {
			r.m.Unwatch(p)
		}
	}
}

// relayFor returns the relay of local match id, creating it on the first remote request.
func (b *Bus) relayFor(id string) (*ownerRelay, error) {
	m, ok := b.env.Registry.Get(id)
	if !ok {
		return nil, fmt.Errorf("%w %q", server.ErrNoMatch, id)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("%w: shutting down", server.ErrUnavailable)
	}
	r := b.owned[id]
	if r == nil {
		r = &ownerRelay{b: b, m: m, id: id, channel: b.names.Match(id), epoch: m.Info().Epoch, proxies: map[proxyKey]*proxySink{}, last: time.Now()}
		b.owned[id] = r
	}
	return r, nil
}

// handleRequest serves a request from another instance's node channel (a receiver shard).
func (b *Bus) handleRequest(msg []byte) {
	var q wmsg
	if err := decodeWmsg(msg, &q); err != nil {
		b.m.bad.Inc()
		return
	}
	if q.Kind == kTake {
		b.handleTake(&q)
		return
	}
	if q.Kind == kAdmin {
		b.serveAdmin(&q)
		return
	}
	if q.Kind == kHandoff {
		b.handleHandoff(&q)
		return
	}
	r, err := b.relayFor(q.Match)
	if err != nil {
		b.refuse(&q, err)
		return
	}
	m := r.m
	switch q.Kind {
	case kJoin:
		p := r.proxy(q.Node, q.Sink)
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.JoinTimeout)
		err := m.JoinFunc(ctx, q.Str, q.Str2, q.Bin, p, q.A, func(pid uint32, err error) {
			cancel()
			r.joinAnswer(q.Node, q.Sink, pid, err)
		})
		if err != nil {
			cancel()
			r.joinAnswer(q.Node, q.Sink, 0, err)
		}
	case kLeave:
		if p := r.find(q.Node, q.Sink); p != nil {
			m.Leave(q.PID, p, protocol.LeaveReason(q.A))
			if protocol.LeaveReason(q.A) != protocol.LeaveDropped {
				r.drop(p.key)
			}
		}
	case kInput:
		if !m.Input(q.PID, q.A, q.B, q.Bin) {
			b.m.drops.WithLabelValues("inbox").Inc()
		}
	case kMessage:
		if !m.Message(q.PID, q.To, q.Flag, q.Bin) {
			b.m.drops.WithLabelValues("inbox").Inc()
		}
	case kSync:
		p := r.proxy(q.Node, q.Sink)
		p.pid.Store(q.PID)
		if err := m.Sync(q.PID, p, q.A, q.B, q.C); err != nil {
			p.Deliver(protocol.ErrorFrame(server.CodeOf(err), err.Error(), protocol.OpSync, q.A), nil)
		}
	case kWatch:
		p := r.proxy(q.Node, q.Sink)
		p.watching.Store(true)
		if err := m.Watch(p, q.A); err != nil {
			p.Deliver(protocol.ErrorFrame(server.CodeOf(err), err.Error(), protocol.OpJoin, q.A), nil)
		}
	case kUnwatch:
		if p := r.find(q.Node, q.Sink); p != nil {
			m.Unwatch(p)
			r.drop(p.key)
		}
	case kReserve:
		// Reserve waits for the match's answer (≤ one tick): off the receiver shard.
		q.Bin, q.To = append([]byte(nil), q.Bin...), nil
		b.goTracked(func() {
			ctx, cancel := context.WithTimeout(context.Background(), b.cfg.RPCTimeout)
			defer cancel()
			b.answer(&q, m.Reserve(ctx, q.Str, time.Duration(q.A)*time.Millisecond), nil)
		})
	case kInfo:
		info, err := json.Marshal(m.Info())
		b.answer(&q, err, info)
	case kPublish:
		b.answer(&q, m.Publish(q.Bin), nil)
	}
}

// refuse answers a request for a match that is not (or no longer) here.
func (b *Bus) refuse(q *wmsg, err error) {
	switch q.Kind {
	case kReserve, kInfo, kPublish:
		b.answer(q, err, nil)
	case kJoin, kSync, kWatch:
		// The requester waits on the match channel: the refusal goes there, unnumbered (0:
		// outside the sequence, so it is not taken for a gap), as a join answer or an ERROR
		// frame answering the request.
		m := wmsg{Kind: kFrame, Node: q.Node, Sink: q.Sink, Match: q.Match}
		switch q.Kind {
		case kJoin:
			m.Kind, m.Code, m.Str = kJoinAns, uint32(server.CodeOf(err)), err.Error()
		case kSync:
			m.Bin = protocol.ErrorFrame(server.CodeOf(err), err.Error(), protocol.OpSync, q.A)
		case kWatch:
			m.Bin = protocol.ErrorFrame(server.CodeOf(err), err.Error(), protocol.OpJoin, q.A)
		}
		b.send(q.Match, b.names.Match(q.Match), appendWmsg(nil, &m))
	}
}

// joinAnswer publishes a join's outcome on the match channel, ahead of the JOINED it precedes.
func (r *ownerRelay) joinAnswer(node string, sink uint64, pid uint32, err error) {
	m := &wmsg{Kind: kJoinAns, Node: node, Sink: sink, PID: pid}
	if p := r.find(node, sink); p != nil && err == nil {
		p.pid.Store(pid)
	}
	if err != nil {
		m.Code, m.Str = uint32(server.CodeOf(err)), err.Error()
		r.drop(proxyKey{node, sink})
	}
	r.publish(m)
}
