package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/tickrelay/tickrelay/server"
)

// AdminHandler serves an operator request that another instance's console sent to this one
// (end a match, kick a player, read a match's members, drain the instance). op names the
// request and args are its parameters (the console's JSON); the answer's bytes go back to the
// caller. It runs on a goroutine of its own, bounded by ctx (the bus's RPCTimeout).
type AdminHandler func(ctx context.Context, op string, args []byte) ([]byte, error)

// ErrNoAdmin answers an operator request on an instance that serves none.
var ErrNoAdmin = errors.New("cluster: this instance serves no operator requests")

// HandleAdmin installs h for the operator requests of other instances (one handler; a later
// call replaces it, nil removes it).
func (b *Bus) HandleAdmin(h AdminHandler) {
	if h == nil {
		b.admin.Store(nil)
		return
	}
	b.admin.Store(&h)
}

// Admin sends operator request op with args to node and waits for its answer (at most the bus's
// RPCTimeout). key picks the relay shard (the match the request is about, or the node), so
// requests about one match keep their order. Errors carry the remote handler's code
// (*server.CodeError), or wrap server.ErrTimeout / server.ErrUnavailable.
func (b *Bus) Admin(ctx context.Context, node, key, op string, args []byte) ([]byte, error) {
	if node == b.node {
		h := b.admin.Load()
		if h == nil {
			return nil, fmt.Errorf("%w: %w", server.ErrUnavailable, ErrNoAdmin)
		}
		return (*h)(ctx, op, args)
	}
	if len(op) > maxWireString {
		return nil, fmt.Errorf("%w: operator request name too long", ErrInvalid)
	}
	a, err := b.call(ctx, node, wmsg{Kind: kAdmin, Match: key, Str: op, Bin: args})
	if err != nil {
		return nil, err
	}
	return a.Bin, nil
}

// Nodes are the live instances as of the last heartbeat (nil before the first one).
func (b *Bus) Nodes() []NodeInfo {
	if ns := b.nodes.Load(); ns != nil {
		return append([]NodeInfo(nil), (*ns)...)
	}
	return nil
}

// Node is this instance's name.
func (b *Bus) Node() string { return b.node }

// serveAdmin runs an operator request off the receiver shard and answers it.
func (b *Bus) serveAdmin(q *wmsg) {
	h := b.admin.Load()
	if h == nil {
		b.answer(q, fmt.Errorf("%w: %w", server.ErrUnavailable, ErrNoAdmin), nil)
		return
	}
	req := *q
	req.Bin = append([]byte(nil), q.Bin...)
	b.goTracked(func() {
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.RPCTimeout)
		defer cancel()
		out, err := (*h)(ctx, req.Str, req.Bin)
		b.answer(&req, err, out)
	})
}
