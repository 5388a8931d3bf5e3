package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// Two instances started with --redis share the duel queue: a ticket opened on one and a ticket
// opened on the other are matched together, and each player reads the outcome on its own
// instance.
func TestMatchmakingAcrossInstances(t *testing.T) {
	rs := redistest.Start(t)
	secret := "0123456789abcdef0123456789abcdef-app-mm"
	args := func() []string {
		return []string{"--listen", "127.0.0.1:0", "--admin", "", "--secret", secret, "--redis", rs.Addr}
	}
	a, stopA := start(t, args())
	defer stopA()
	b, stopB := start(t, args())
	defer stopB()
	call := func(base, method, path, token string, body any, out any) int {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			rd = bytes.NewReader(j)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
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
		if st := call(base, "POST", "/v1/auth/guest", "", map[string]string{"name": "p"}, &g); st != 200 {
			t.Fatalf("guest: %d", st)
		}
		var tk ticket
		if st := call(base, "POST", "/v1/matchmaking/tickets", g.Token, map[string]any{"queue": "duel", "properties": map[string]any{"skill": 1500}}, &tk); st != 201 {
			t.Fatalf("ticket on instance %d: %d", i, st)
		}
		ids[i], toks[i] = tk.ID, g.Token
	}
	var got [2]ticket
	deadline := time.Now().Add(10 * time.Second)
	for i, base := range bases {
		for got[i].Status != "matched" && time.Now().Before(deadline) {
			call(base, "GET", "/v1/matchmaking/tickets/"+ids[i]+"?wait=5s&status=searching", toks[i], nil, &got[i])
		}
	}
	if got[0].Status != "matched" || got[1].Status != "matched" || got[0].MatchID != got[1].MatchID {
		t.Fatalf("across instances: %+v and %+v", got[0], got[1])
	}
}
