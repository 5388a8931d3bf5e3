package server

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickrelay/tickrelay/protocol"
)

// One user can keep only a few matches alive, and the instance only so many in all.
func TestMatchCapsPerUserAndInstance(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxMatchesPerUser = 3; c.MaxMatches = 4 })
	tok, _ := ts.guest("a")
	var first created
	for i := 0; i < 3; i++ {
		c := ts.create(tok, map[string]any{"game": "relay"})
		if i == 0 {
			first = c
		}
	}
	var e map[string]apiError
	if st := ts.do("POST", "/v1/matches", tok, map[string]any{"game": "relay"}, &e); st != http.StatusTooManyRequests || e["error"].Code != int(protocol.ErrCodeRateLimited) {
		t.Fatalf("4th live match of one user: %d %+v, want 429 RATE_LIMITED", st, e)
	}
	other, _ := ts.guest("b")
	ts.create(other, map[string]any{"game": "relay"})
	third, _ := ts.guest("c")
	if st := ts.do("POST", "/v1/matches", third, map[string]any{"game": "relay"}, &e); st != http.StatusServiceUnavailable || e["error"].Code != int(protocol.ErrCodeUnavailable) {
		t.Fatalf("match above the instance cap: %d %+v, want 503 UNAVAILABLE", st, e)
	}
	if a, b := testutil.ToFloat64(ts.srv.metrics.limited.WithLabelValues("matches_user")), testutil.ToFloat64(ts.srv.metrics.limited.WithLabelValues("matches")); a != 1 || b != 1 {
		t.Fatalf("refusals counted: matches_user %v, matches %v", a, b)
	}
	// When one of them ends, its creator may create another.
	m, _ := ts.srv.Registry().Get(first.Match.ID)
	m.Stop(protocol.EndStopped)
	<-m.Done()
	ts.create(tok, map[string]any{"game": "relay"})
}

// A match that nobody ever joins ends soon after its creator's reservation lapses (it used to
// live 120 s: a 60 s reservation plus the 60 s empty timeout).
func TestUnusedMatchEndsSoon(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ReservationTTL = time.Second; c.UnusedMatchTimeout = 100 * time.Millisecond })
	tok, _ := ts.guest("a")
	start := time.Now()
	cr := ts.create(tok, map[string]any{"game": "relay"})
	m, _ := ts.srv.Registry().Get(cr.Match.ID)
	select {
	case <-m.Done():
		t.Logf("an unused match ended %v after creation", time.Since(start).Round(10*time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("an unused match was still running 10 s after creation")
	}
}

type listed struct {
	Matches []MatchInfo `json:"matches"`
}

func (ts *testServer) listFree() []MatchInfo {
	ts.t.Helper()
	var l listed
	if st := ts.do("GET", "/v1/matches?free=true", "", nil, &l); st != 200 {
		ts.t.Fatalf("list: %d", st)
	}
	return l.Matches
}

// Reserved seats count as taken in listings; a user holds only a few live reservations; and a
// reservation lapses after ReservationTTL (15 s by default; 60 s before).
func TestSeatReservationsLimited(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ReservationTTL = time.Second; c.MaxReservationsPerUser = 2 })
	owner, _ := ts.guest("owner")
	cr := ts.create(owner, map[string]any{"game": "relay", "max_players": 2})
	squatter, _ := ts.guest("squatter")
	var res Reservation
	if st := ts.do("POST", "/v1/matches/"+cr.Match.ID+"/join", squatter, nil, &res); st != 200 {
		t.Fatalf("reserve: %d", st)
	}
	if l := ts.listFree(); len(l) != 0 {
		t.Fatalf("free=true lists a match whose 2 seats are both reserved: %+v", l)
	}
	var e map[string]apiError
	late, _ := ts.guest("late")
	if st := ts.do("POST", "/v1/matches/"+cr.Match.ID+"/join", late, nil, &e); st != http.StatusConflict || e["error"].Name != "MATCH_FULL" {
		t.Fatalf("third reservation: %d %+v", st, e)
	}
	// The squatter can hold 2 live reservations, not more.
	for i := 0; i < 2; i++ {
		o, _ := ts.guest("o" + strconv.Itoa(i))
		m := ts.create(o, map[string]any{"game": "relay"})
		var body map[string]any
		st := ts.do("POST", "/v1/matches/"+m.Match.ID+"/join", squatter, nil, &body)
		if want := []int{200, http.StatusTooManyRequests}[i]; st != want {
			t.Fatalf("squatter's reservation %d: %d %+v, want %d", i+2, st, body, want)
		}
	}
	if got := testutil.ToFloat64(ts.srv.metrics.limited.WithLabelValues("reservations_user")); got != 1 {
		t.Fatalf("reservations_user refusals %v", got)
	}
	// The reservations lapse and the seats are free again.
	start := time.Now()
	for len(ts.listFree()) < 3 {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("reserved seats still held 10 s later: %+v", ts.listFree())
		}
		time.Sleep(50 * time.Millisecond) // polling the public listing, as a client would
	}
	t.Logf("reserved seats free again after %v", time.Since(start).Round(10*time.Millisecond))
}
