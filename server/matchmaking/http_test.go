package matchmaking

import (
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// Two players queue for a duel: both are matched at once (no interval), one learns it by
// long-poll, the other by the EVENT pushed to its session, and both JOIN with their seats.
func TestHTTPDuel(t *testing.T) {
	ts := startServer(t, Config{})
	a, b := ts.guest("ann").connect(), ts.guest("bob").connect()
	ta, st := a.ticket("duel", map[string]any{"skill": 1500, "region": "eu"})
	if st != 201 || ta.Status != "searching" || ta.ID == "" || ta.ExpiresAt.Sub(ta.CreatedAt) != time.Minute {
		t.Fatalf("create: %d %+v", st, ta)
	}
	a.event("searching", 5*time.Second)
	start := time.Now()
	tb, st := b.ticket("duel", map[string]any{"skill": 1540, "region": "eu"})
	if st != 201 {
		t.Fatalf("create b: %d %+v", st, tb)
	}
	got, st := a.get(ta.ID, "?wait=10s&status=searching")
	if st != 200 || got.Status != "matched" || got.Reservation == nil {
		t.Fatalf("long-poll: %d %+v", st, got)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("time to match %v", took)
	}
	if got.Reservation.Address != ts.ws {
		t.Errorf("address %q, want %q", got.Reservation.Address, ts.ws)
	}
	// "told" is observed by a long-poll that was waiting when the match was made. Bob's ticket
	// is matched at once, so ann's long-poll may arrive just after the match (then it answers
	// without waiting, and nothing is observed): 0 or 1, never more (checked again below).
	told := phaseCount(t, ts.mm.metrics, "duel", "told")
	if told > 1 {
		t.Errorf("told phase: %d observations, want at most 1 (one long-poll)", told)
	}
	if !ts.srv.Connected(b.id) || ts.srv.Connected("nobody") {
		t.Errorf("Connected: bob %v, nobody %v", ts.srv.Connected(b.id), ts.srv.Connected("nobody"))
	}
	// A long-poll of a ticket with its outcome answers at once (an outcome never changes).
	polled := time.Now()
	if again, st := a.get(ta.ID, "?wait=10s"); st != 200 || again.Status != "matched" {
		t.Fatalf("long-poll of a matched ticket: %d %+v", st, again)
	}
	if took := time.Since(polled); took > 5*time.Second {
		t.Errorf("a long-poll of a matched ticket took %v", took)
	}
	if n := phaseCount(t, ts.mm.metrics, "duel", "told"); n != told {
		t.Errorf("told phase: %d observations after a long-poll of a matched ticket, want %d (it did not wait)", n, told)
	}
	ev := b.event("matched", 5*time.Second)
	res, _ := ev["reservation"].(map[string]any)
	if ev["id"] != tb.ID || res == nil || res["match_id"] != got.MatchID || res["address"] != "" {
		t.Fatalf("pushed event %v", ev)
	}
	ja := a.join(got.MatchID, got.Reservation.Ticket)
	jb := b.join(res["match_id"].(string), res["ticket"].(string))
	if ja.Match != jb.Match || ja.Game != "duel" {
		t.Fatalf("joined %s and %s (%s)", ja.Match, jb.Match, ja.Game)
	}
	teams := map[int]bool{got.Reservation.Team: true, toInt(res["team"]): true}
	if !teams[1] || !teams[2] {
		t.Errorf("teams %v, want 1 and 2", teams)
	}
	// Matched tickets can no longer be cancelled.
	var e ticketJSON
	if st := ts.do("DELETE", "/v1/matchmaking/tickets/"+ta.ID, a.token, nil, &e); st != 409 || e.Error.Code != int(protocol.ErrCodeConflict) {
		t.Fatalf("cancel a matched ticket: %d %+v", st, e.Error)
	}
}

func TestHTTPRefusals(t *testing.T) {
	ts := startServer(t, Config{})
	a, other := ts.guest("ann"), ts.guest("eve")
	check := func(what string, st int, got ticketJSON, wantSt int, wantCode protocol.ErrorCode) {
		t.Helper()
		if st != wantSt || got.Error == nil || got.Error.Code != int(wantCode) {
			t.Errorf("%s: %d %+v, want %d code %d", what, st, got.Error, wantSt, wantCode)
		}
	}
	var e ticketJSON
	st := ts.do("POST", "/v1/matchmaking/tickets", "", map[string]any{"queue": "duel"}, &e)
	check("no token", st, e, 401, protocol.ErrCodeUnauthorized)
	e, st = a.ticket("nope", nil)
	check("unknown queue", st, e, 404, protocol.ErrCodeNotFound)
	many := map[string]any{}
	for i := range 17 {
		many[strings.Repeat("k", i+1)] = i
	}
	e, st = a.ticket("duel", many)
	check("17 properties", st, e, 413, protocol.ErrCodeTooLarge)
	e, st = a.ticket("duel", map[string]any{"region": strings.Repeat("x", 65)})
	check("long value", st, e, 413, protocol.ErrCodeTooLarge)
	e, st = a.ticket("duel", map[string]any{strings.Repeat("x", 65): 1})
	check("long key", st, e, 413, protocol.ErrCodeTooLarge)
	e, st = a.ticket("duel", map[string]any{"skill": "high"})
	check("skill not a number", st, e, 400, protocol.ErrCodeBadRequest)
	e, st = a.ticket("duel", map[string]any{"nested": map[string]any{"a": 1}})
	check("nested property", st, e, 400, protocol.ErrCodeBadRequest)
	st = ts.do("POST", "/v1/matchmaking/tickets", a.token, []byte(`{"queue":`), &e)
	check("bad JSON", st, e, 400, protocol.ErrCodeBadRequest)
	st = ts.do("POST", "/v1/matchmaking/tickets", a.token, []byte(`{"queue":"duel","properties":{"a":"`+strings.Repeat("x", 17<<10)+`"}}`), &e)
	check("body above 16 KiB", st, e, 413, protocol.ErrCodeTooLarge)

	tk, st := a.ticket("duel", map[string]any{"skill": 3000})
	if st != 201 {
		t.Fatalf("create: %d", st)
	}
	e, st = a.ticket("arena", nil)
	check("second live ticket", st, e, 409, protocol.ErrCodeConflict)
	e, st = other.get(tk.ID, "")
	check("another player's ticket", st, e, 403, protocol.ErrCodeForbidden)
	e, st = a.get(tk.ID, "?wait=soon")
	check("bad wait", st, e, 400, protocol.ErrCodeBadRequest)
	e, st = a.get("t-nope", "")
	check("unknown ticket", st, e, 404, protocol.ErrCodeNotFound)
	st = ts.do("DELETE", "/v1/matchmaking/tickets/"+tk.ID, other.token, nil, &e)
	check("cancel another player's ticket", st, e, 403, protocol.ErrCodeForbidden)
	var c ticketJSON
	if st := ts.do("DELETE", "/v1/matchmaking/tickets/"+tk.ID, a.token, nil, &c); st != 200 || c.Status != "cancelled" {
		t.Fatalf("cancel: %d %+v", st, c)
	}
	st = ts.do("DELETE", "/v1/matchmaking/tickets/"+tk.ID, a.token, nil, &e)
	check("cancel twice", st, e, 409, protocol.ErrCodeConflict)
	if _, st := a.ticket("duel", nil); st != 201 {
		t.Fatalf("a new ticket after the cancel: %d", st)
	}
}

func TestHTTPCapacity(t *testing.T) {
	ts := startServer(t, Config{MaxTickets: 2})
	for i := range 2 {
		if _, st := ts.guest("p").ticket("duel", map[string]any{"skill": float64(i * 5000)}); st != 201 {
			t.Fatalf("ticket %d: %d", i, st)
		}
	}
	e, st := ts.guest("p").ticket("duel", map[string]any{"skill": 20000})
	if st != 503 || e.Error.Code != int(protocol.ErrCodeUnavailable) {
		t.Fatalf("third ticket over max_tickets 2: %d %+v", st, e.Error)
	}
}

// A ticket nobody matches expires; the player's idle connection is held open meanwhile and
// gets the outcome pushed.
func TestHTTPExpiryAndIdleHold(t *testing.T) {
	cfg := Config{Queues: []Queue{{Name: "solo", Game: "duel", Players: 2, TicketTTL: Duration(1200 * time.Millisecond)}}}
	ts := startServer(t, cfg, func(c *server.Config) { c.IdleTimeout = 300 * time.Millisecond })
	a := ts.guest("ann").connect()
	tk, st := a.ticket("solo", nil)
	if st != 201 {
		t.Fatalf("create: %d", st)
	}
	// Progress is pushed when the window widens (after 1 s: 100 → 200).
	wide := a.eventWhere(func(v map[string]any) bool {
		w, _ := v["window"].(map[string]any)
		return v["status"] == "searching" && w != nil && w["skill"] == float64(200)
	}, 5*time.Second)
	if toInt(wide["waited_ms"]) < 1000 {
		t.Errorf("widened after %v ms", wide["waited_ms"])
	}
	ev := a.event("expired", 5*time.Second) // 4 idle timeouts later: the connection was held
	if ev["id"] != tk.ID || ev["reason"] == "" {
		t.Fatalf("expired event %v", ev)
	}
	got, _ := a.get(tk.ID, "")
	if got.Status != "expired" {
		t.Fatalf("status %q", got.Status)
	}
	select {
	case code := <-a.code: // no live ticket: the idle close comes now
		if code != uint16(protocol.CloseIdle) {
			t.Fatalf("closed with %d, want 4103", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the idle connection was not closed after the ticket ended")
	}
}

func TestHTTPParty(t *testing.T) {
	cfg := Config{Queues: []Queue{
		{Name: "trio", Game: "arena", Players: 3},
		{Name: "duel", Game: "duel", Players: 2, Teams: 2},
	}}
	ts := startServer(t, cfg)
	lead, mate, solo := ts.guest("lead").connect(), ts.guest("mate").connect(), ts.guest("solo")
	var p Party
	if st := ts.do("POST", "/v1/parties", lead.token, nil, &p); st != 201 || p.Code == "" || p.Leader != lead.id {
		t.Fatalf("create party: %d %+v", st, p)
	}
	var e ticketJSON
	if st := ts.do("POST", "/v1/parties", lead.token, nil, &e); st != 409 {
		t.Fatalf("second party: %d", st)
	}
	if st := ts.do("POST", "/v1/parties/join", mate.token, map[string]string{"code": "NOPE2345"}, &e); st != 404 {
		t.Fatalf("join with a wrong code: %d", st)
	}
	var joined Party
	if st := ts.do("POST", "/v1/parties/join", mate.token, map[string]string{"code": strings.ToLower(p.Code)}, &joined); st != 200 || len(joined.Members) != 2 {
		t.Fatalf("join: %d %+v", st, joined)
	}
	if st := ts.do("GET", "/v1/parties/"+p.ID, solo.token, nil, &e); st != 403 {
		t.Fatalf("a stranger reads the party: %d", st)
	}
	if _, st := mate.ticket("trio", nil); st != 403 {
		t.Fatalf("a member opens a ticket: %d", st)
	}
	if e, st := lead.ticket("duel", nil); st != 400 || e.Error.Code != int(protocol.ErrCodeBadRequest) {
		t.Fatalf("a party of 2 in a 1v1 queue: %d", st)
	}
	tk, st := lead.ticket("trio", nil)
	if st != 201 || tk.Party != p.ID || len(tk.Players) != 2 {
		t.Fatalf("party ticket: %d %+v", st, tk)
	}
	if _, st := mate.get(tk.ID, ""); st != 200 {
		t.Fatalf("a member reads the party's ticket: %d", st)
	}
	if st := ts.do("POST", "/v1/parties/"+p.ID+"/leave", mate.token, nil, &e); st != 409 {
		t.Fatalf("leave while the ticket is live: %d", st)
	}
	if st := ts.do("POST", "/v1/parties/join", solo.token, map[string]string{"code": p.Code}, &e); st != 409 {
		t.Fatalf("join while the ticket is live: %d", st)
	}
	ts2, st := solo.ticket("trio", nil)
	if st != 201 {
		t.Fatalf("solo ticket: %d", st)
	}
	lm := lead.event("matched", 5*time.Second)
	mm := mate.event("matched", 5*time.Second)
	sm, _ := solo.get(ts2.ID, "?wait=5s&status=searching")
	lr, mr := lm["reservation"].(map[string]any), mm["reservation"].(map[string]any)
	if lr["match_id"] != mr["match_id"] || sm.MatchID != lr["match_id"] || lr["ticket"] == mr["ticket"] {
		t.Fatalf("party and solo in matches %v, %v, %v", lr["match_id"], mr["match_id"], sm.MatchID)
	}
	lead.join(lr["match_id"].(string), lr["ticket"].(string))
	mate.join(mr["match_id"].(string), mr["ticket"].(string))
	// The ticket ended: the party is free again.
	if st := ts.do("POST", "/v1/parties/"+p.ID+"/leave", mate.token, nil, &e); st != 200 {
		t.Fatalf("leave after the match: %d", st)
	}
}

// A running match with free seats takes the next tickets (backfill).
func TestHTTPBackfill(t *testing.T) {
	cfg := Config{Queues: []Queue{{Name: "pair", Game: "arena", Players: 2, Seats: 4, Backfill: true}}}
	ts := startServer(t, cfg)
	var ids []string
	var ps []*player
	for _, n := range []string{"a", "b"} {
		p := ts.guest(n)
		tk, st := p.ticket("pair", nil)
		if st != 201 {
			t.Fatalf("create: %d", st)
		}
		ids, ps = append(ids, tk.ID), append(ps, p)
	}
	first, _ := ps[0].get(ids[0], "?wait=5s&status=searching")
	if first.Status != "matched" {
		t.Fatalf("first pair: %+v", first)
	}
	for _, n := range []string{"c", "d"} {
		p := ts.guest(n)
		tk, st := p.ticket("pair", nil)
		if st != 201 {
			t.Fatalf("create: %d", st)
		}
		got, _ := p.get(tk.ID, "?wait=5s&status=searching")
		if got.Status != "matched" || got.MatchID != first.MatchID {
			t.Fatalf("%s: %s in %s, want backfill into %s", n, got.Status, got.MatchID, first.MatchID)
		}
	}
	// Four seats are reserved now: the fifth ticket starts no backfill.
	e := ts.guest("e")
	tk, _ := e.ticket("pair", nil)
	got, _ := e.get(tk.ID, "?wait=300ms")
	if got.Status != "searching" {
		t.Fatalf("fifth ticket: %+v", got)
	}
}

// toInt reads a msgpack-decoded integer of any width.
func toInt(v any) int {
	switch n := v.(type) {
	case int8:
		return int(n)
	case int16:
		return int(n)
	case int32:
		return int(n)
	case int64:
		return int(n)
	case uint8:
		return int(n)
	case uint16:
		return int(n)
	case uint32:
		return int(n)
	case uint64:
		return int(n)
	case float64:
		return int(n)
	}
	return -1
}
