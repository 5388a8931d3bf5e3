package server

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// counter is a test game with an integer param: {"n": 3} must decode into an int field, and
// {"end": true} ends the match at its first tick with the result {"n": n}.
type counter struct {
	game.Base
	n   int
	end bool
}

// TickWhenEmpty: it ends in its first Step, with nobody in it (an empty match would sleep).
var counterType = game.GameType{Name: "counter", New: func() game.Logic { return &counter{} },
	Defaults: game.Options{TickWhenEmpty: true}}

func (c *counter) Init(_ *game.Ctx, params []byte) error {
	var p struct {
		N   int  `msgpack:"n"`
		End bool `msgpack:"end"`
	}
	if len(params) > 0 {
		if err := protocol.Unmarshal(params, &p); err != nil {
			return err
		}
	}
	if p.N < 0 {
		return game.Refuse("n must be ≥ 0, got %d", p.N)
	}
	c.n, c.end = p.N, p.End
	return nil
}

func (c *counter) Step(ctx *game.Ctx) {
	if c.end {
		ctx.End(map[string]int{"n": c.n})
	}
}

func withCounter(c *Config) {
	c.Catalog = DefaultCatalog()
	c.Catalog.Register(counterType)
}

type errJSON struct {
	Error apiError `json:"error"`
}

// request sends a raw body and returns the status, the JSON error (if any) and the headers.
func (ts *testServer) request(method, path, token, body string, hdr http.Header) (int, apiError, http.Header) {
	ts.t.Helper()
	req, _ := http.NewRequest(method, ts.base+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e errJSON
	if resp.StatusCode >= 400 {
		if err := jsonUnmarshal(b, &e); err != nil || e.Error.Name == "" {
			ts.t.Fatalf("%s %s: %d answered %q, not a JSON error", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, e.Error, resp.Header
}

func TestHTTPErrorsAreJSONWithCodes(t *testing.T) {
	demo := t.TempDir()
	if err := os.WriteFile(demo+"/index.html", []byte("<p>demo</p>"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, withCounter, func(c *Config) { c.DemoDir = demo })
	tok, _ := ts.guest("e")
	cases := []struct {
		method, path, body string
		status             int
		name, text         string
	}{
		{"GET", "/v1/nope", "", 404, "NOT_FOUND", "no route"},
		{"GET", "/nope", "", 404, "NOT_FOUND", "no file /nope"}, // the demo's file server
		{"DELETE", "/v1/matches", "", 405, "BAD_REQUEST", "GET, POST"},
		{"PUT", "/v1/auth/guest", "", 405, "BAD_REQUEST", "POST"},
		{"POST", "/v1/matches", `{"gmae":"arena"}`, 400, "BAD_REQUEST", `unknown field "gmae"`},
		{"POST", "/v1/matches", `{"game":"arena"} {}`, 400, "BAD_REQUEST", "more than one"},
		{"POST", "/v1/matches", `{"game":"chess"}`, 404, "NOT_FOUND", "arena, counter, duel, relay"},
		{"POST", "/v1/matches", `{"game":"counter","params":{"n":-1}}`, 400, "BAD_REQUEST", "n must be ≥ 0, got -1"},
		{"POST", "/v1/matches", `{"game":"counter","params":{"n":"x"}}`, 400, "BAD_REQUEST", "counter"},
		{"POST", "/v1/matches", `{"game":"arena","params":{"world":-5}}`, 400, "BAD_REQUEST", "bad arena params"},
		{"GET", "/v1/matches?limit=abc", "", 400, "BAD_REQUEST", `not "abc"`},
		{"GET", "/v1/matches?limit=0", "", 400, "BAD_REQUEST", "1 to 100,"},
		{"GET", "/v1/matches?free=maybe", "", 400, "BAD_REQUEST", "free"},
	}
	for _, c := range cases {
		st, e, hdr := ts.request(c.method, c.path, tok, c.body, nil)
		if c.name == "" {
			if st != c.status {
				t.Errorf("%s %s: %d, want %d", c.method, c.path, st, c.status)
			}
			continue
		}
		if st != c.status || e.Name != c.name || !strings.Contains(e.Message, c.text) || codeName(protocol.ErrorCode(e.Code)) != e.Name {
			t.Errorf("%s %s %s: %d %+v, want %d %s containing %q", c.method, c.path, c.body, st, e, c.status, c.name, c.text)
		}
		if st == 405 && hdr.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
	// Integers stay integers: {"n": 3} decodes into the game's int field.
	if st, e, _ := ts.request("POST", "/v1/matches", tok, `{"game":"counter","params":{"n":3}}`, nil); st != 201 {
		t.Fatalf("integer params: %d %+v", st, e)
	}
}

func TestJSONToMsgpackKeepsIntegers(t *testing.T) {
	for in, want := range map[string]string{
		`3`: "03", `-1`: "ff", `3.5`: "cb400c000000000000", `18446744073709551615`: "cfffffffffffffffff",
		`{"a":[1,2.0]}`: "81a16192" + "01cb4000000000000000", `"x"`: "a178", `null`: "c0",
	} {
		b, err := jsonToMsgpack([]byte(in))
		if err != nil || hexOf(b) != want {
			t.Errorf("%s: %s %v, want %s", in, hexOf(b), err, want)
		}
	}
	for _, bad := range []string{``, `{`, `1 2`, `1e999`, strings.Repeat("[", 14) + strings.Repeat("]", 14)} {
		if _, err := jsonToMsgpack([]byte(bad)); !errors.Is(err, errBadRequest) {
			t.Errorf("%q: %v, want a bad request", bad, err)
		}
	}
}

func FuzzJSONToMsgpack(f *testing.F) {
	for _, s := range []string{`3`, `{"a":[1,2.5,"x",null,true]}`, `[[[[1]]]]`, `1e400`, `-0`, `18446744073709551616`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := jsonToMsgpack(b)
		if err != nil {
			return
		}
		// Whatever it accepts is valid msgpack a payload can carry.
		if err := protocol.Validate(out); err != nil {
			t.Fatalf("%q became invalid msgpack %x: %v", b, out, err)
		}
	})
}

// A published JSON 3 arrives over the socket as the msgpack integer 3; a body without data is
// refused.
func TestPublishKeepsIntegersAndNeedsData(t *testing.T) {
	ts := startServer(t)
	p, tok := ts.connect("p")
	cr := ts.create(tok, map[string]any{"game": "relay"})
	p.join("", cr.Reservation.Ticket)
	op := http.Header{"Authorization": {"Bearer op-key"}}
	for _, body := range []string{``, `{}`, `{"date": 3}`} {
		if st, e, _ := ts.request("POST", "/v1/matches/"+cr.Match.ID+"/events", "", body, op); st != 400 || e.Name != "BAD_REQUEST" {
			t.Errorf("publish %q: %d %+v, want 400", body, st, e)
		}
	}
	if st, e, _ := ts.request("POST", "/v1/matches/"+cr.Match.ID+"/events", "", `{"data": 3}`, op); st != 202 {
		t.Fatalf("publish: %d %+v", st, e)
	}
	for {
		m := p.expect(protocol.OpDelta)
		for _, ev := range decodeEvents(t, m.Events) {
			if ev.kind == protocol.EventServer {
				if hexOf(ev.data) != "03" {
					t.Fatalf("published 3 arrived as %x, want 03 (an integer)", ev.data)
				}
				return
			}
		}
	}
}

// An ended match stays readable with its result; a late join is told MATCH_ENDED.
func TestEndedMatchStaysReadable(t *testing.T) {
	ts := startServer(t, withCounter)
	tok, _ := ts.guest("e")
	// Created through the registry: over HTTP, the creator's reservation races the first tick,
	// which ends this game (a loaded machine lost that race once and got 409 on the create).
	params, err := protocol.Marshal(map[string]any{"n": 7, "end": true})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ts.srv.Registry().Create(game.CreateOptions{Game: "counter", Params: params})
	if err != nil {
		t.Fatal(err)
	}
	<-m.Done()
	cr := struct{ Match game.Info }{Match: game.Info{ID: m.ID()}}
	var got struct {
		game.Info
		End struct {
			Reason     int            `json:"reason"`
			ReasonName string         `json:"reason_name"`
			Result     map[string]int `json:"result"`
		} `json:"end"`
	}
	if st := ts.do("GET", "/v1/matches/"+cr.Match.ID, "", nil, &got); st != 200 || !got.Ended || got.End.ReasonName != "FINISHED" || got.End.Result["n"] != 7 {
		t.Fatalf("ended match: %d %+v", st, got)
	}
	if st, e, _ := ts.request("POST", "/v1/matches/"+cr.Match.ID+"/join", tok, `{}`, nil); st != 409 || e.Name != "MATCH_ENDED" {
		t.Fatalf("join an ended match: %d %+v", st, e)
	}
	c, _ := ts.connect("late")
	c.send(protocol.ClientMsg{Op: protocol.OpJoin, Req: 1, Match: cr.Match.ID})
	if e := c.expect(protocol.OpError); e.Code != protocol.ErrCodeMatchEnded {
		t.Fatalf("WebSocket JOIN of an ended match: %+v", e)
	}
	if st, e, _ := ts.request("GET", "/v1/matches/m-never", "", "", nil); st != 404 || e.Name != "NOT_FOUND" {
		t.Fatalf("unknown match: %d %+v", st, e)
	}
}

func TestCORSFromTheOriginsAllowList(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.AllowedOrigins = []string{"http://localhost:5173"} })
	pre := func(origin string) http.Header {
		return http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization, content-type"}}
	}
	req, _ := http.NewRequest("OPTIONS", ts.base+"/v1/matches", nil)
	req.Header = pre("http://localhost:5173")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "http://localhost:5173" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, h)
	}
	if st, e, _ := ts.request("OPTIONS", "/v1/matches", "", "", pre("http://evil.example")); st != 403 || e.Name != "FORBIDDEN" {
		t.Fatalf("preflight from another origin: %d %+v", st, e)
	}
	_, _, h = ts.request("GET", "/v1/games", "", "", http.Header{"Origin": {"http://localhost:5173"}})
	if h.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || !strings.Contains(h.Get("Vary"), "Origin") {
		t.Fatalf("GET from an allowed origin: %v", h)
	}
	_, _, h = ts.request("GET", "/v1/games", "", "", http.Header{"Origin": {"http://evil.example"}})
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("GET from another origin got CORS headers: %v", h)
	}
}

// During a drain, /readyz answers 503 while the listener still serves (DrainDelay).
func TestReadyzDuringDrain(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.DrainDelay = 3 * time.Second })
	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(context.Background()) }()
	saw503 := false
	for !saw503 {
		resp, err := http.Get(ts.base + "/readyz")
		if err != nil {
			t.Fatalf("the listener closed before /readyz answered 503: %v", err)
		}
		resp.Body.Close()
		saw503 = resp.StatusCode == http.StatusServiceUnavailable
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type rawEvent struct {
	kind protocol.EventKind
	data []byte // the event's data, raw msgpack
}

// decodeEvents splits a DELTA's events array into kinds and raw data.
func decodeEvents(t *testing.T, raw []byte) []rawEvent {
	t.Helper()
	if raw == nil {
		return nil
	}
	var evs [][]msgpack.RawMessage
	if err := msgpack.Unmarshal(raw, &evs); err != nil {
		t.Fatal(err)
	}
	out := make([]rawEvent, 0, len(evs))
	for _, e := range evs {
		var k int
		if len(e) < 3 || msgpack.Unmarshal(e[0], &k) != nil {
			t.Fatalf("event %x", e)
		}
		out = append(out, rawEvent{kind: protocol.EventKind(k), data: e[2]})
	}
	return out
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// The stream's "end" has one shape: reason from the END table with its name, the result, a message.
func TestStreamEndShape(t *testing.T) {
	ts := startServer(t, withCounter)
	tok, _ := ts.guest("s")
	cr := ts.create(tok, map[string]any{"game": "counter", "params": map[string]any{"n": 4}})
	resp, err := http.Get(ts.base + "/v1/matches/" + cr.Match.ID + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, _ := ts.srv.Registry().Get(cr.Match.ID)
	sc := bufio.NewScanner(resp.Body)
	var event string
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "event: ") {
			event = strings.TrimPrefix(line, "event: ")
			if event == "state" {
				m.Stop(protocol.EndFinished) // the snapshot is out: end it
			}
			continue
		}
		if event == "end" && strings.HasPrefix(line, "data: ") {
			var end struct {
				Reason     int    `json:"reason"`
				ReasonName string `json:"reason_name"`
				Result     any    `json:"result"`
				Message    string `json:"message"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &end); err != nil {
				t.Fatal(err)
			}
			if end.Reason != int(protocol.EndFinished) || end.ReasonName != "FINISHED" || end.Message == "" {
				t.Fatalf("end %+v", end)
			}
			return
		}
	}
	t.Fatalf("no end event: %v", sc.Err())
}
