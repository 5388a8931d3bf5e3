package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

type page struct {
	Matches []MatchInfo `json:"matches"`
	Next    string      `json:"next"`
}

// Labels are bounded at creation, and listings come in pages of at most 100 with a cursor.
func TestListingsBoundedAndPaged(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.GuestBurst = 1000; c.MaxMatchesPerUser = -1 })
	tok, _ := ts.guest("a")
	many := map[string]string{}
	for i := 0; i < 17; i++ {
		many["k"+strconv.Itoa(i)] = "v"
	}
	for name, label := range map[string]map[string]string{
		"17 labels":        many,
		"950-byte value":   {"x": strings.Repeat("y", 950)},
		"33-byte key":      {strings.Repeat("k", 33): "v"},
		"empty key":        {"": "v"},
		"control in value": {"x": "a\x00b"},
	} {
		var e map[string]apiError
		if st := ts.do("POST", "/v1/matches", tok, map[string]any{"game": "relay", "label": label}, &e); st != 400 || e["error"].Code != int(protocol.ErrCodeBadRequest) {
			t.Errorf("%s: %d %+v, want 400 BAD_REQUEST", name, st, e)
		}
	}
	full := map[string]string{}
	for i := 0; i < 16; i++ {
		full[strings.Repeat("k", 30)+strconv.Itoa(i)] = strings.Repeat("v", 64)
	}
	var ids []string
	for i := 0; i < 230; i++ {
		ids = append(ids, ts.create(tok, map[string]any{"game": "relay", "label": full}).Match.ID)
	}
	var got []string
	cursor, pages, biggest := "", 0, 0
	for {
		req, _ := http.NewRequest("GET", ts.base+"/v1/matches?cursor="+cursor, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p page
		decodeJSON(t, resp, &p)
		if int(resp.ContentLength) > biggest {
			biggest = int(resp.ContentLength)
		}
		pages++
		if len(p.Matches) > 100 {
			t.Fatalf("a page of %d matches", len(p.Matches))
		}
		for _, m := range p.Matches {
			got = append(got, m.ID)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if pages != 3 || strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("%d pages, %d matches (want 3 pages of the 230, oldest first)", pages, len(got))
	}
	t.Logf("230 matches with 16 maximal labels: 3 pages, the largest %d bytes", biggest)
	for _, q := range []string{"limit=101", "cursor=not-a-cursor", "limit=0"} {
		var e map[string]apiError
		if st := ts.do("GET", "/v1/matches?"+q, "", nil, &e); st != 400 {
			t.Errorf("?%s: %d, want 400", q, st)
		}
	}
	var p page
	ts.do("GET", "/v1/matches?limit=7", "", nil, &p)
	if len(p.Matches) != 7 || p.Next == "" {
		t.Fatalf("limit=7: %d matches, next %q", len(p.Matches), p.Next)
	}
}

// Outsiders see members' names, not their user ids; members, the creator and the backend see
// ids. A private match is by invitation: outsiders get no reservation and see no members.
func TestMemberIDsAndPrivateMatches(t *testing.T) {
	ts := startServer(t)
	ann, annTok := ts.connect("ann")
	pub := ts.create(annTok, map[string]any{"game": "relay"})
	ann.join("", pub.Reservation.Ticket)
	if m, ok := ts.srv.Registry().Get(pub.Match.ID); ok { // the tick that seated ann has published its info
		_ = m.Inspect(context.Background(), func(*game.Ctx) {})
	}
	outTok, outID := ts.guest("outsider")
	members := func(token, id string) []map[string]any {
		var m struct {
			Members []map[string]any `json:"members"`
			Creator string           `json:"creator"`
		}
		if st := ts.do("GET", "/v1/matches/"+id, token, nil, &m); st != 200 {
			t.Fatalf("get: %d", st)
		}
		if token == outTok && m.Creator != "" {
			t.Fatalf("an outsider sees the creator %q", m.Creator)
		}
		return m.Members
	}
	if ms := members(outTok, pub.Match.ID); len(ms) != 1 || ms[0]["name"] != "ann" || ms[0]["player_id"] != nil {
		t.Fatalf("outsider's view of the members: %+v", ms)
	}
	if ms := members("", pub.Match.ID); len(ms) != 1 || ms[0]["player_id"] != nil {
		t.Fatalf("anonymous view: %+v", ms)
	}
	if ms := members(annTok, pub.Match.ID); len(ms) != 1 || ms[0]["player_id"] == nil {
		t.Fatalf("a member's view: %+v", ms)
	}
	if ms := members("op-key", pub.Match.ID); len(ms) != 1 || ms[0]["player_id"] == nil {
		t.Fatalf("the backend's view: %+v", ms)
	}
	var l struct {
		Matches []map[string]any `json:"matches"`
	}
	ts.do("GET", "/v1/matches", outTok, nil, &l)
	if len(l.Matches) != 1 || strings.Contains(ts.raw("GET", "/v1/matches", outTok), `"player_id"`) {
		t.Fatalf("the public listing shows user ids: %+v", l)
	}

	priv := ts.create(annTok, map[string]any{"game": "relay", "private": true})
	ann2, _ := ts.connect("ann-second") // another member so the private match has one
	_ = ann2
	var e map[string]apiError
	if st := ts.do("POST", "/v1/matches/"+priv.Match.ID+"/join", outTok, nil, &e); st != http.StatusForbidden {
		t.Fatalf("an outsider reserved a seat in a private match: %d", st)
	}
	if ms := members(outTok, priv.Match.ID); len(ms) != 0 {
		t.Fatalf("an outsider sees a private match's members: %+v", ms)
	}
	// Its creator invites: a reservation for the outsider, who joins with that ticket.
	var res Reservation
	if st := ts.do("POST", "/v1/matches/"+priv.Match.ID+"/join", annTok, map[string]string{"player_id": outID}, &res); st != 200 {
		t.Fatalf("the creator's invitation: %d", st)
	}
	out, st, err := ts.dial(outTok, nil)
	if err != nil {
		t.Fatalf("dial: %d %v", st, err)
	}
	out.expect(protocol.OpWelcome)
	out.join("", res.Ticket)
	// The backend invites too; a player cannot reserve for someone else in a public match.
	_, bobID := ts.guest("bob")
	if st := ts.do("POST", "/v1/matches/"+priv.Match.ID+"/join", "op-key", map[string]string{"player_id": bobID}, &res); st != 200 {
		t.Fatalf("the backend's invitation: %d", st)
	}
	if st := ts.do("POST", "/v1/matches/"+pub.Match.ID+"/join", outTok, map[string]string{"player_id": bobID}, &e); st != http.StatusForbidden {
		t.Fatalf("a player reserved a seat for another: %d", st)
	}
}
