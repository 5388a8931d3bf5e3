package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// Two instances started with --redis share the duel queue: a ticket opened on one and a ticket
// opened on the other are matched together, each player reads the outcome on its own instance,
// and the match runs on the least loaded instance: a has the queue's lease (it started first)
// and three connections, b none, so a creates the match on b.
func TestMatchmakingAcrossInstances(t *testing.T) {
	rs := redistest.Start(t)
	secret := "0123456789abcdef0123456789abcdef-app-mm"
	a, stopA := start(t, instanceArgs(t, secret, "--redis", rs.Addr))
	defer stopA()
	// a's load: three idle WebSocket sessions (a guest each).
	for i := range 3 {
		var g struct {
			Token string `json:"token"`
		}
		j, _ := json.Marshal(map[string]string{"name": "idle"})
		resp, err := http.Post("http://"+a.Addr().String()+"/v1/auth/guest", "application/json", bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&g)
		resp.Body.Close()
		h := http.Header{}
		h.Set("Sec-WebSocket-Protocol", protocol.Subprotocol)
		conn, _, err := gws.NewClient(new(gws.BuiltinEventHandler), &gws.ClientOption{Addr: "ws://" + a.Addr().String() + "/ws?token=" + g.Token, RequestHeader: h})
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		go conn.ReadLoop()
		defer conn.WriteClose(1000, nil)
	}
	b, stopB := start(t, instanceArgs(t, secret, "--redis", rs.Addr))
	defer stopB()
	ctx := context.Background()
	for end := time.Now().Add(10 * time.Second); ; {
		nl, err := a.PlaceNode(ctx)
		if err == nil && nl.Node == b.NodeID() {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("a never saw b as the least loaded instance: %+v %v", nl, err)
		}
		time.Sleep(50 * time.Millisecond) // the heartbeats' pace (1 s); bounded above
	}
	bases := [2]string{"http://" + a.Addr().String(), "http://" + b.Addr().String()}
	got, _ := duelAcross(t, bases, 10*time.Second)
	if _, here := b.Registry().Get(got[0].MatchID); !here {
		_, onA := a.Registry().Get(got[0].MatchID)
		t.Fatalf("match %s is not on the least loaded instance b (on a: %v)", got[0].MatchID, onA)
	}
}
