package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server/cluster/redistest"
	"github.com/tickrelay/tickrelay/server/servertest"
)

// Two instances started with --redis share the duel queue: a ticket opened on one and a ticket
// opened on the other are matched together, each player reads the outcome on its own instance,
// and the match runs on the least loaded instance: a has the queue's lease (it started first)
// and three connections, b none, so a creates the match on b.
func TestMatchmakingAcrossInstances(t *testing.T) {
	rs := redistest.Start(t)
	secret := "0123456789abcdef0123456789abcdef-app-mm"
	// A real port each: the instances announce http://<--listen> to each other.
	args := func() []string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return []string{"--listen", addr, "--admin", "", "--secret", secret, "--redis", rs.Addr}
	}
	a, stopA := start(t, args())
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
	b, stopB := start(t, args())
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
	type ticket struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		MatchID string `json:"match_id"`
	}
	var ids [2]string
	var toks [2]string
	bases := [2]string{"http://" + a.Addr().String(), "http://" + b.Addr().String()}
	for i, base := range bases {
		var g struct {
			Token string `json:"token"`
		}
		if st := servertest.DoJSON(t, "POST", base+"/v1/auth/guest", "", map[string]string{"name": "p"}, &g); st != 200 {
			t.Fatalf("guest: %d", st)
		}
		var tk ticket
		if st := servertest.DoJSON(t, "POST", base+"/v1/matchmaking/tickets", g.Token, map[string]any{"queue": "duel", "properties": map[string]any{"skill": 1500}}, &tk); st != 201 {
			t.Fatalf("ticket on instance %d: %d", i, st)
		}
		ids[i], toks[i] = tk.ID, g.Token
	}
	var got [2]ticket
	deadline := time.Now().Add(10 * time.Second)
	for i, base := range bases {
		for got[i].Status != "matched" && time.Now().Before(deadline) {
			servertest.DoJSON(t, "GET", base+"/v1/matchmaking/tickets/"+ids[i]+"?wait=5s&status=searching", toks[i], nil, &got[i])
		}
	}
	if got[0].Status != "matched" || got[1].Status != "matched" || got[0].MatchID != got[1].MatchID {
		t.Fatalf("across instances: %+v and %+v", got[0], got[1])
	}
	if _, here := b.Registry().Get(got[0].MatchID); !here {
		_, onA := a.Registry().Get(got[0].MatchID)
		t.Fatalf("match %s is not on the least loaded instance b (on a: %v)", got[0].MatchID, onA)
	}
}
