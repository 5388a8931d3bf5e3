package app

import (
	"net"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/server/servertest"
)

// instanceArgs are the flags of one app instance of a test cluster: a free 127.0.0.1 port of
// its own (the instances announce http://<--listen> to each other), no admin listener, the
// cluster's secret and its Redis flags (e.g. "--redis", addr).
func instanceArgs(t *testing.T, secret string, redis ...string) []string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return append([]string{"--listen", addr, "--admin", "", "--secret", secret}, redis...)
}

// mmReservation and mmTicket are a matchmaking ticket as GET /v1/matchmaking/tickets/{id}
// answers it.
type mmReservation struct {
	MatchID string `json:"match_id"`
	Address string `json:"address"`
	Ticket  string `json:"ticket"`
}

type mmTicket struct {
	ID          string         `json:"id"`
	Status      string         `json:"status"`
	MatchID     string         `json:"match_id"`
	Reservation *mmReservation `json:"reservation"`
}

// duelAcross opens one duel ticket (skill 1500) as a new guest on each of bases, then
// long-polls each on its own instance until it is matched or within has passed. It returns the
// tickets as last read and the guests' tokens; it fails the test unless both are matched into
// one match.
func duelAcross(t *testing.T, bases [2]string, within time.Duration) (got [2]mmTicket, toks [2]string) {
	t.Helper()
	var ids [2]string
	for i, base := range bases {
		var g struct {
			Token string `json:"token"`
		}
		if st := servertest.DoJSON(t, "POST", base+"/v1/auth/guest", "", map[string]string{"name": "p"}, &g); st != 200 {
			t.Fatalf("guest on instance %d: %d", i, st)
		}
		var tk mmTicket
		if st := servertest.DoJSON(t, "POST", base+"/v1/matchmaking/tickets", g.Token, map[string]any{"queue": "duel", "properties": map[string]any{"skill": 1500}}, &tk); st != 201 {
			t.Fatalf("ticket on instance %d: %d", i, st)
		}
		ids[i], toks[i] = tk.ID, g.Token
	}
	deadline := time.Now().Add(within)
	for i, base := range bases {
		for got[i].Status != "matched" && time.Now().Before(deadline) {
			servertest.DoJSON(t, "GET", base+"/v1/matchmaking/tickets/"+ids[i]+"?wait=5s&status=searching", toks[i], nil, &got[i])
		}
	}
	if got[0].Status != "matched" || got[1].Status != "matched" || got[0].MatchID != got[1].MatchID {
		t.Fatalf("two tickets on two instances: %+v and %+v, want one match", got[0], got[1])
	}
	return got, toks
}
