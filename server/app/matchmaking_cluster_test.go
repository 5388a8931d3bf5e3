package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// Two instances started with --redis-cluster (a real 3-master Redis Cluster) share the duel
// queue through the app's own wiring: the tickets store, the queue lease and the cluster bus all
// over the cluster. Two tickets opened one on each instance are matched once, into one match that
// exists on exactly one instance with both seats reserved, and each player JOINs it with the
// reservation it was given (at the address the reservation names).
func TestMatchmakingRedisCluster(t *testing.T) {
	rc := redistest.StartCluster(t, 3)
	secret := "0123456789abcdef0123456789abcdef-app-mmrc"
	a, stopA := start(t, instanceArgs(t, secret, "--redis-cluster", strings.Join(rc.Addrs(), ",")))
	defer stopA()
	b, stopB := start(t, instanceArgs(t, secret, "--redis-cluster", strings.Join(rc.Addrs(), ",")))
	defer stopB()
	bases := [2]string{"http://" + a.Addr().String(), "http://" + b.Addr().String()}

	got, toks := duelAcross(t, bases, 15*time.Second)
	m := got[0].MatchID
	_, onA := a.Registry().Get(m)
	_, onB := b.Registry().Get(m)
	if onA == onB {
		t.Fatalf("match %s on a: %v, on b: %v (want exactly one instance)", m, onA, onB)
	}
	if n := a.Registry().Len() + b.Registry().Len(); n != 1 {
		t.Fatalf("%d matches for one pair: a ticket was placed twice", n)
	}
	owner := a
	if onB {
		owner = b
	}
	mt, _ := owner.Registry().Get(m)
	// Both seats are held before anyone joins: the reservations were answered on the match
	// goroutine, which publishes the listing in the same tick.
	if info := tickedInfo(t, mt); info.Reserved != 2 || info.Players != 0 {
		t.Fatalf("match %s before the joins: %d reserved, %d players (want both seats reserved)", m, info.Reserved, info.Players)
	}
	for i := range got {
		r := got[i].Reservation
		if r == nil || r.Ticket == "" || r.MatchID != m || r.Address == "" {
			t.Fatalf("ticket %d has no usable reservation: %+v", i, r)
		}
		joinWith(t, r.Address, toks[i], r.MatchID, r.Ticket)
	}
	// Each JOINED went out after the listing of its tick was published.
	if info := tickedInfo(t, mt); info.Players != 2 {
		t.Fatalf("match %s after both JOINs: %d players", m, info.Players)
	}
}

// tickedInfo is mt's listing once the tick under way (if any) is over: Inspect runs on the
// match goroutine between ticks, and a tick publishes the listing before it ends.
func tickedInfo(t *testing.T, mt *game.Match) game.Info {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := mt.Inspect(ctx, func(*game.Ctx) {}); err != nil {
		t.Fatalf("inspect %s: %v", mt.ID(), err)
	}
	return mt.Info()
}

// joinWith connects to the WebSocket URL addr with a session token and JOINs match with the
// reservation's ticket; it fails the test unless JOINED comes back.
func joinWith(t *testing.T, addr, token, match, ticket string) {
	t.Helper()
	h := &joinClient{msgs: make(chan protocol.ServerMsg, 256)}
	hdr := http.Header{}
	hdr.Set("Sec-WebSocket-Protocol", protocol.Subprotocol)
	sep := "?"
	if strings.Contains(addr, "?") {
		sep = "&"
	}
	conn, _, err := gws.NewClient(h, &gws.ClientOption{Addr: addr + sep + "token=" + token, RequestHeader: hdr})
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	done := make(chan struct{})
	go func() { defer close(done); conn.ReadLoop() }()
	defer func() { _ = conn.WriteClose(1000, nil); <-done }()
	if err := conn.WriteMessage(gws.OpcodeBinary, protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpJoin, Req: 1, Match: match, Ticket: ticket})); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		select {
		case m := <-h.msgs:
			switch m.Op {
			case protocol.OpJoined:
				return
			case protocol.OpError:
				t.Fatalf("JOIN %s at %s refused: %d %s", match, addr, m.Code, m.Message)
			}
		case <-ctx.Done():
			t.Fatalf("no JOINED from %s within 5s", addr)
		}
	}
}

type joinClient struct {
	gws.BuiltinEventHandler
	msgs chan protocol.ServerMsg
}

func (h *joinClient) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	var sm protocol.ServerMsg
	if protocol.DecodeServer(append([]byte(nil), m.Bytes()...), &sm) == nil {
		select {
		case h.msgs <- sm:
		default:
		}
	}
}
