package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// remoteHandle is the server.MatchHandle of a match owned by another instance. Nothing in it
// waits on the owner except the answered requests (Info, Reserve, Publish), each bounded by
// the bus's RPCTimeout; joins, syncs and watches are answered on the sink (or by done).
type remoteHandle struct {
	b *Bus
	e MatchEntry
}

func (h *remoteHandle) ID() string { return h.e.ID }

// local is the match's handle when it runs here now (failover restored it here, or a drain
// handed it here): the session's handle then talks to it directly.
func (h *remoteHandle) local() server.MatchHandle {
	if m, ok := h.b.env.Registry.Get(h.e.ID); ok {
		return server.LocalHandle(m, h.b.owner())
	}
	return nil
}

// entry is the owner to talk to: the new one the relay follows (failover), else the one
// Locate found.
func (h *remoteHandle) entry() MatchEntry {
	if v, ok := h.b.fo.follows.Load(h.e.ID); ok {
		if e := v.(MatchEntry); e.Epoch > h.e.Epoch {
			return e
		}
	}
	return h.e
}

func (h *remoteHandle) Owner() server.Owner {
	if l := h.local(); l != nil {
		return l.Owner()
	}
	e := h.entry()
	return server.Owner{Node: e.Node, Address: e.Address}
}

func (h *remoteHandle) Info(ctx context.Context) (game.Info, error) {
	if l := h.local(); l != nil {
		return l.Info(ctx)
	}
	a, err := h.b.call(ctx, h.entry().Node, wmsg{Kind: kInfo, Match: h.e.ID})
	if err != nil {
		return game.Info{}, err
	}
	var i game.Info
	if err := json.Unmarshal(a.Bin, &i); err != nil {
		return game.Info{}, fmt.Errorf("%w: info from %s: %v", server.ErrUnavailable, h.e.Node, err)
	}
	return i, nil
}

func (h *remoteHandle) Join(ctx context.Context, j server.JoinRequest, done func(uint32, error)) error {
	if l := h.local(); l != nil {
		return l.Join(ctx, j, done)
	}
	rm, err := h.b.link(ctx, h.entry())
	if err != nil {
		return err
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	r := &relayed{sink: j.Sink, state: stJoining, done: done, joinReq: j.Req}
	rm.add(r)
	r.join = wmsg{Kind: kJoin, Match: h.e.ID, Sink: r.id, Str: j.UserID, Str2: j.Name, Bin: j.Meta, A: j.Req}
	r.asked = time.Now()
	rm.expireJoin(r)
	if !h.b.request(rm.e.Node, r.join) {
		r.timer.Stop()
		rm.forget(r)
		return fmt.Errorf("%w: relay queue full", server.ErrUnavailable)
	}
	return nil
}

func (h *remoteHandle) Reserve(ctx context.Context, userID string, ttl time.Duration) error {
	if l := h.local(); l != nil {
		return l.Reserve(ctx, userID, ttl)
	}
	_, err := h.b.call(ctx, h.entry().Node, wmsg{Kind: kReserve, Match: h.e.ID, Str: userID, A: uint32(ttl / time.Millisecond)})
	return err
}

// recipient finds sink's record (nil when the match has no local link or sink is unknown).
func (h *remoteHandle) recipient(sink game.Sink) (*remoteMatch, *relayed) {
	h.b.mu.Lock()
	rm := h.b.remotes[h.b.names.Match(h.e.ID)]
	h.b.mu.Unlock()
	if rm == nil {
		return nil, nil
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm, rm.bySink[sink]
}

func (h *remoteHandle) Leave(ctx context.Context, pid uint32, sink game.Sink, reason protocol.LeaveReason) error {
	if l := h.local(); l != nil {
		return l.Leave(ctx, pid, sink, reason)
	}
	rm, r := h.recipient(sink)
	if r == nil {
		return nil
	}
	rm.mu.Lock()
	if r.moving && r.state == stJoining {
		// Its seat is being taken back on the new owner: the answer gives it back (a
		// session that left) or keeps it dropped (a closed one), with the pid it gets there.
		rm.mu.Unlock()
		return nil
	}
	rm.forget(r)
	node := rm.e.Node
	rm.mu.Unlock()
	if !h.b.request(node, wmsg{Kind: kLeave, Match: h.e.ID, Sink: r.id, PID: pid, A: uint32(reason)}) {
		return fmt.Errorf("%w: relay queue full", server.ErrUnavailable)
	}
	return nil
}

func (h *remoteHandle) Input(ctx context.Context, pid, seq, seen uint32, payload []byte) error {
	if l := h.local(); l != nil {
		return l.Input(ctx, pid, seq, seen, payload)
	}
	if !h.b.request(h.entry().Node, wmsg{Kind: kInput, Match: h.e.ID, PID: pid, A: seq, B: seen, Bin: payload}) {
		return server.ErrDropped
	}
	return nil
}

func (h *remoteHandle) Message(ctx context.Context, pid uint32, to []uint32, echo bool, payload []byte) error {
	if l := h.local(); l != nil {
		return l.Message(ctx, pid, to, echo, payload)
	}
	if !h.b.request(h.entry().Node, wmsg{Kind: kMessage, Match: h.e.ID, PID: pid, To: to, Flag: echo, Bin: payload}) {
		return server.ErrDropped
	}
	return nil
}

// Sync brings sink up to date from (epoch, tick): a SYNC of a relayed member, or a RESUME on
// this instance of a seat that was relayed through another one (the owner hands the seat to
// this sink).
func (h *remoteHandle) Sync(ctx context.Context, pid uint32, sink game.Sink, req, epoch, tick uint32) error {
	if l := h.local(); l != nil {
		return l.Sync(ctx, pid, sink, req, epoch, tick)
	}
	rm, err := h.b.link(ctx, h.entry())
	if err != nil {
		return err
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	r := rm.bySink[sink]
	if r == nil || r.spectator {
		r = &relayed{sink: sink, pid: pid}
		rm.add(r)
	}
	r.pid, r.state, r.req, r.epoch, r.tick, r.asked = pid, stSync, req, epoch, tick, time.Now()
	if !h.b.request(rm.e.Node, wmsg{Kind: kSync, Match: h.e.ID, Sink: r.id, PID: pid, A: req, B: epoch, C: tick}) {
		return fmt.Errorf("%w: relay queue full", server.ErrUnavailable)
	}
	return nil
}

func (h *remoteHandle) Publish(ctx context.Context, payload []byte) error {
	if l := h.local(); l != nil {
		return l.Publish(ctx, payload)
	}
	_, err := h.b.call(ctx, h.entry().Node, wmsg{Kind: kPublish, Match: h.e.ID, Bin: payload})
	return err
}

func (h *remoteHandle) Watch(ctx context.Context, sink game.Sink, req uint32) error {
	if l := h.local(); l != nil {
		return l.Watch(ctx, sink, req)
	}
	rm, err := h.b.link(ctx, h.entry())
	if err != nil {
		return err
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	r := &relayed{sink: sink, spectator: true, state: stAwaitJoined, joinReq: req, asked: time.Now()}
	rm.add(r)
	if !h.b.request(rm.e.Node, wmsg{Kind: kWatch, Match: h.e.ID, Sink: r.id, A: req}) {
		rm.forget(r)
		return fmt.Errorf("%w: relay queue full", server.ErrUnavailable)
	}
	return nil
}

func (h *remoteHandle) Unwatch(ctx context.Context, sink game.Sink) error {
	if l := h.local(); l != nil {
		return l.Unwatch(ctx, sink)
	}
	rm, r := h.recipient(sink)
	if r == nil {
		return nil
	}
	rm.mu.Lock()
	rm.forget(r)
	node := rm.e.Node
	rm.mu.Unlock()
	h.b.request(node, wmsg{Kind: kUnwatch, Match: h.e.ID, Sink: r.id})
	return nil
}
