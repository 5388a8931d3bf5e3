package cluster

import (
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// POST /v1/matches on a busy instance creates the match on the least loaded one; the answer
// (match owner, reservation address) names that instance, and its ticket works where asked.
func TestCreatePlacedOnLeastLoaded(t *testing.T) {
	net, dir := NewMemoryNetwork(), NewMemoryDirectory(DirectoryConfig{})
	sub := memorySubstrate(net, dir)
	opt := func(bc *BusConfig, _ *server.Config) { bc.Capacity = 10 }
	a, b := startInstance(t, "a", sub, opt), startInstance(t, "b", sub, opt)
	busy := a.connect("busy") // a has a session, b none
	_ = busy
	waitNodes(t, 2, a, b)
	tok := a.guest("ann")
	cr := a.create(tok, map[string]any{"game": "arena"})
	if cr.Match.Owner.Node != "b" || cr.Reservation.Address != b.ws {
		t.Fatalf("created on %+v, reservation address %q; want b (%s)", cr.Match.Owner, cr.Reservation.Address, b.ws)
	}
	if _, ok := b.srv.Registry().Get(cr.Match.ID); !ok {
		t.Fatal("b does not run it")
	}
	ann := a.dialToken(tok)
	if j := ann.join("", cr.Reservation.Ticket); j.Match != cr.Match.ID {
		t.Fatalf("joined %q", j.Match)
	}
}

// POST /v1/matches/{id}/events on an instance that does not own the match reaches its players.
func TestPublishFromAnotherInstance(t *testing.T) {
	a, b, _ := threeInstances(t)
	tok := a.guest("ann")
	cr := a.create(tok, map[string]any{"game": "relay"})
	ann := a.dialToken(tok)
	ann.join("", cr.Reservation.Ticket)
	if st := b.do("POST", "/v1/matches/"+cr.Match.ID+"/events", "op-key", map[string]any{"data": "hello"}, nil); st != 202 {
		t.Fatalf("publish on b: %d", st)
	}
	for {
		m := ann.next()
		if m.Op != protocol.OpDelta || m.Events == nil {
			continue
		}
		v, err := protocol.MsgpackToJSON(m.Events)
		must(t, err)
		for _, e := range v.([]any) {
			if ev := e.([]any); uint32(ev[0].(float64)) == uint32(protocol.EventServer) && ev[2] == "hello" {
				return
			}
		}
	}
}

// A JOIN relayed to an instance that no longer runs the match is refused at once (not after
// the join timeout): the owner answers on the match's channel.
func TestJoinRefusedWhenTheOwnerHasNoMatch(t *testing.T) {
	a, b, _ := threeInstances(t)
	tok := a.guest("ann")
	cr := a.create(tok, map[string]any{"game": "arena"})
	h, err := b.bus.Locate(ctx5(t), cr.Match.ID) // b resolves it to a...
	must(t, err)
	m, _ := a.srv.Registry().Get(cr.Match.ID)
	m.Stop(protocol.EndStopped) // ...which stops it before the JOIN arrives
	<-m.Done()
	got := make(chan error, 1)
	start := time.Now()
	must(t, h.Join(ctx5(t), server.JoinRequest{UserID: "u", Name: "u", Sink: discardSink{}, Req: 1}, func(_ uint32, err error) { got <- err }))
	select {
	case err := <-got:
		if err == nil || server.CodeOf(err) != protocol.ErrCodeNotFound {
			t.Fatalf("join: %v (code %v), want NOT_FOUND", err, server.CodeOf(err))
		}
	case <-time.After(4 * time.Second):
		t.Fatal("no answer within 4 s (the join timeout is 5 s)")
	}
	t.Logf("refused after %v", time.Since(start).Round(time.Millisecond))
}

type discardSink struct{}

func (discardSink) Deliver(_, _ []byte)                           {}
func (discardSink) Detached(string, uint32, protocol.LeaveReason) {}
