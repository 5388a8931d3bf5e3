package server

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/protocol"
)

// shortRing is the arena with 100 ms of delta history, so a resume falls beyond it quickly.
var shortRing = game.GameType{Name: "arena-short", New: arena.Type.New,
	Defaults: game.Options{TickRate: 20, RingDuration: 100 * time.Millisecond}}

func withShortRing(c *Config) {
	c.Catalog = DefaultCatalog()
	c.Catalog.Register(shortRing)
}

// moveUntilAcked sends n inputs from c, each after the previous one's ack (a burst above the
// per-tick input cap would be cut short by design).
func moveUntilAcked(t *testing.T, c *client, mi *game.Mirror, from, n uint32) {
	t.Helper()
	for seq := from; seq < from+n; seq++ {
		c.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: seq, Payload: arena.EncodeInput(nil, 0, 1)})
		c.feedUntil(mi, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta && m.HasAck && m.Ack >= seq })
	}
}

func TestResumeReplaysMissedDeltasThenSnapshotBeyondWindow(t *testing.T) {
	ts := startServer(t, withShortRing)
	for _, c := range []struct {
		game     string
		moves    uint32
		snapshot bool
	}{{"arena", 5, false}, {"arena-short", 20, true}} {
		t.Run(c.game, func(t *testing.T) {
			ts := ts.with(t)
			ann, tok := ts.connect("ann")
			bob, _ := ts.connect("bob")
			cr := ts.create(tok, map[string]any{"game": c.game})
			var ma, mb game.Mirror
			j := ann.join("", cr.Reservation.Ticket)
			ma.ApplyJoined(&j)
			jb := bob.join(cr.Match.ID, "")
			mb.ApplyJoined(&jb)
			moveUntilAcked(t, ann, &ma, 1, 3)
			// ann's socket dies without a close frame; bob keeps moving.
			_ = ann.conn.NetConn().Close()
			<-ann.done
			moveUntilAcked(t, bob, &mb, 1, c.moves)
			// ann comes back on a new connection and resumes.
			again, _, err := ts.dial(tok, nil)
			if err != nil {
				t.Fatal(err)
			}
			again.expect(protocol.OpWelcome)
			again.send(protocol.ClientMsg{Op: protocol.OpResume, Req: 9, Session: ann.welcome.Session,
				ResumeToken: ann.welcome.ResumeToken, Epoch: ma.Epoch, Tick: ma.Tick})
			r := again.expect(protocol.OpResumed)
			if r.Session != ann.welcome.Session || r.ResumeToken == ann.welcome.ResumeToken || r.Req != 9 {
				t.Fatalf("RESUMED %+v", r)
			}
			first := again.next()
			switch {
			case c.snapshot && first.Op != protocol.OpJoined:
				t.Fatalf("beyond the window: want JOINED, got op %d", first.Op)
			case !c.snapshot && first.Op != protocol.OpCatchup:
				t.Fatalf("within the window: want CATCHUP, got op %d", first.Op)
			}
			if first.Op == protocol.OpJoined {
				ma.ApplyJoined(&first)
			} else if err := ma.ApplyCatchup(&first); err != nil {
				t.Fatal(err)
			}
			// bob has stopped: ann's mirror converges on exactly the server's view.
			want := viewOf(t, ts, cr.Match.ID, j.PID)
			for ma.Checksum() != want {
				again.feedUntil(&ma, func(m *protocol.ServerMsg) bool { return m.Op == protocol.OpDelta })
			}
			if ma.Ack != 3 {
				t.Fatalf("ann's ack after resume %d, want 3", ma.Ack)
			}
			// ann plays on, on the resumed seat.
			moveUntilAcked(t, again, &ma, 4, 2)
			// The old resume token was used up.
			third, _, _ := ts.dial(tok, nil)
			third.expect(protocol.OpWelcome)
			third.send(protocol.ClientMsg{Op: protocol.OpResume, Req: 1, Session: ann.welcome.Session, ResumeToken: ann.welcome.ResumeToken})
			if e := third.expect(protocol.OpError); e.Code != protocol.ErrCodeResumeFailed {
				t.Fatalf("reused resume token: %+v", e)
			}
		})
	}
}

func TestSSEStreamAndServerPublish(t *testing.T) {
	ts := startServer(t)
	p, tok := ts.connect("p")
	cr := ts.create(tok, map[string]any{"game": "arena", "label": map[string]string{"mode": "ffa"}})
	p.join("", cr.Reservation.Ticket)

	resp, err := http.Get(ts.base + "/v1/matches/" + cr.Match.ID + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan [2]string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{ev, strings.TrimPrefix(line, "data: ")}
			}
		}
		close(events)
	}()
	next := func() [2]string {
		select {
		case e := <-events:
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no SSE event within 5 s")
		}
		return [2]string{}
	}
	if e := next(); e[0] != "state" || !strings.Contains(e[1], `"x":`) {
		t.Fatalf("first SSE event %v", e)
	}
	p.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 1, Payload: arena.EncodeInput(nil, 1, 0)})
	for e := next(); ; e = next() {
		if e[0] == "delta" && strings.Contains(e[1], `"updated"`) && strings.Contains(e[1], `"x":`) {
			break
		}
	}
	// Publishing needs the operator key.
	if st := ts.do("POST", "/v1/matches/"+cr.Match.ID+"/events", tok, map[string]any{"data": "x"}, nil); st != 401 {
		t.Fatalf("publish with a player token: %d", st)
	}
	if st := ts.do("POST", "/v1/matches/"+cr.Match.ID+"/events", "op-key", map[string]any{"data": map[string]any{"notice": "double xp"}}, nil); st != 202 {
		t.Fatalf("publish: %d", st)
	}
	for e := next(); ; e = next() {
		if e[0] == "delta" && strings.Contains(e[1], "double xp") {
			break
		}
	}
	for {
		m := p.next()
		if m.Op == protocol.OpDelta && m.Events != nil {
			if ev := eventsOf(t, m); uint32(ev[0][0].(float64)) == uint32(protocol.EventServer) {
				break
			}
		}
	}
	// The match ends: the stream says so and closes.
	m, _ := ts.srv.Registry().Get(cr.Match.ID)
	m.Stop(protocol.EndStopped)
	for e := next(); e[0] != "end"; e = next() {
	}
}

func TestPublishDisabledWithoutKey(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.APIKey = "" })
	_, tok := ts.connect("p")
	cr := ts.create(tok, map[string]any{"game": "relay"})
	if st := ts.do("POST", "/v1/matches/"+cr.Match.ID+"/events", "anything", map[string]any{"data": 1}, nil); st != 403 {
		t.Fatalf("publish without a configured key: %d, want 403", st)
	}
}

func TestShutdownClosesWithReconnectableCode(t *testing.T) {
	ts := startServer(t)
	a, tok := ts.connect("a")
	cr := ts.create(tok, map[string]any{"game": "arena"})
	a.join("", cr.Reservation.Ticket)
	idle, _ := ts.connect("idle")
	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(t.Context()) }()
	for _, c := range []*client{a, idle} {
		if n := c.expect(protocol.OpEvent); n.Kind != protocol.EventNotice {
			t.Fatalf("want a NOTICE first, got %+v", n)
		}
	}
	if end := a.expect(protocol.OpEnd); end.Reason != protocol.EndStopped {
		t.Fatalf("END %+v", end)
	}
	for _, c := range []*client{a, idle} {
		if code := c.closedWith(5 * time.Second); code != uint16(protocol.CloseShutdown) || !protocol.Reconnectable(protocol.CloseCode(code)) {
			t.Fatalf("close %d, want 4000", code)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := func() int {
		resp, err := http.Get(ts.base + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}(); st == 200 {
		t.Fatal("ready after shutdown")
	}
}

func TestHTTPAPIShapes(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.PublicMetrics = true })
	tok, _ := ts.guest("h")
	var errBody map[string]apiError
	if st := ts.do("POST", "/v1/matches", tok, map[string]any{"game": "chess"}, &errBody); st != 404 || errBody["error"].Name != "NOT_FOUND" {
		t.Fatalf("unknown game: %d %+v", st, errBody)
	}
	if st := ts.do("POST", "/v1/matches", "", map[string]any{"game": "arena"}, &errBody); st != 401 {
		t.Fatalf("no token: %d", st)
	}
	if st := ts.do("POST", "/v1/matches", tok, map[string]any{"game": "arena", "params": map[string]any{"world": -1}}, &errBody); st != 400 {
		t.Fatalf("bad params: %d %+v", st, errBody)
	}
	big := map[string]any{"game": "arena", "label": map[string]string{"x": strings.Repeat("y", 20000)}}
	if st := ts.do("POST", "/v1/matches", tok, big, &errBody); st != 413 {
		t.Fatalf("20 KB body: %d, want 413", st)
	}
	a := ts.create(tok, map[string]any{"game": "arena", "label": map[string]string{"mode": "ffa"}})
	ts.create(tok, map[string]any{"game": "relay", "private": true})
	var list struct {
		Matches []MatchInfo `json:"matches"`
	}
	ts.do("GET", "/v1/matches?game=arena&label.mode=ffa&free=true", "", nil, &list)
	if len(list.Matches) != 1 || list.Matches[0].ID != a.Match.ID || list.Matches[0].Owner.Node != "local" {
		t.Fatalf("list %+v", list)
	}
	ts.do("GET", "/v1/matches", "", nil, &list)
	if len(list.Matches) != 1 {
		t.Fatalf("the private match is listed: %+v", list)
	}
	var res Reservation
	if st := ts.do("POST", "/v1/matches/"+a.Match.ID+"/join", tok, nil, &res); st != 200 || res.Ticket == "" {
		t.Fatalf("join reservation: %d %+v", st, res)
	}
	if st := ts.do("GET", "/v1/matches/nope", "", nil, &errBody); st != 404 {
		t.Fatalf("missing match: %d", st)
	}
	resp, err := http.Get(ts.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	seen := map[string]bool{}
	for sc.Scan() {
		for _, name := range []string{"tickrelay_sessions", "tickrelay_matches", "tickrelay_tick_duration_seconds_bucket", "tickrelay_slow_closes_total", "tickrelay_auth_failures_total"} {
			if strings.HasPrefix(sc.Text(), name) {
				seen[name] = true
			}
		}
	}
	if len(seen) != 5 {
		t.Fatalf("metrics seen: %v", seen)
	}
}
