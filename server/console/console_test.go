package console

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The login exchanges the key (in a JSON body) for an HttpOnly, SameSite=Strict cookie that
// expires with the session; a wrong key, no cookie, or an expired one get 401 with a request id.
func TestLoginCookieAndExpiry(t *testing.T) {
	n := start(t, "solo", nil)
	op := n.client()
	var e apiErr
	code, h := op.do("GET", "/console/api/me", nil, &e)
	if code != http.StatusUnauthorized || e.Error.Name != "UNAUTHORIZED" || e.Error.RequestID == "" || h.Get("X-Request-Id") != e.Error.RequestID {
		t.Fatalf("no cookie: %d %+v (X-Request-Id %q)", code, e, h.Get("X-Request-Id"))
	}
	if code := op.login("ann", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", code)
	}
	if len(n.log.lines("console login failed: wrong key")) != 1 {
		t.Fatal("the failed login is not logged")
	}
	code, h = op.do("POST", "/console/api/login", map[string]string{"name": "ann", "key": testKey}, nil)
	if code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	ck := h.Get("Set-Cookie")
	for _, want := range []string{cookieName + "=", "HttpOnly", "SameSite=Strict", "Path=/console/", "Max-Age=900"} {
		if !strings.Contains(ck, want) {
			t.Fatalf("cookie %q lacks %q", ck, want)
		}
	}
	if strings.Contains(ck, testKey) {
		t.Fatal("the key is in the cookie")
	}
	var me meJSON
	if code, _ := op.do("GET", "/console/api/me", nil, &me); code != 200 || me.Name != "ann" || me.Node != "solo" || !me.Drain {
		t.Fatalf("me: %d %+v", code, me)
	}
	// A form post from another site (no JSON, foreign Origin) is refused even with the cookie.
	req, _ := http.NewRequest("POST", n.admin+"/console/api/matches/x/end", strings.NewReader("a=b"))
	req.Header.Set("Origin", "http://evil.example")
	resp, err := op.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", resp.StatusCode)
	}
	n.clock.Add(15*time.Minute + time.Second)
	if code, _ := op.do("GET", "/console/api/me", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("expired session: %d", code)
	}
	// Logging out ends the session on the server, not just in the browser.
	op2 := n.client()
	op2.login("bob", testKey)
	if code, _ := op2.do("POST", "/console/api/logout", map[string]string{}, nil); code != http.StatusNoContent {
		t.Fatalf("logout: %d", code)
	}
	if len(n.con.sessions.byTk) != 0 {
		t.Fatalf("%d sessions left after expiry and logout", len(n.con.sessions.byTk))
	}
	// The page itself is served with headers that keep it out of frames.
	resp, err = http.Get(n.admin + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("page: %d %v", resp.StatusCode, resp.Header)
	}
}

// Failed logins are limited per client IP: over the limit even the right key gets 429 with
// Retry-After until the window passes; refusals are counted.
func TestLoginFailuresLimited(t *testing.T) {
	n := start(t, "solo", nil, func(c *Config) { c.LoginFailures = 3 })
	op := n.client()
	for i := 0; i < 3; i++ {
		if code := op.login("eve", "guess"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	var e apiErr
	code, h := op.do("POST", "/console/api/login", map[string]string{"name": "eve", "key": testKey}, &e)
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" || e.Error.Name != "RATE_LIMITED" {
		t.Fatalf("over the limit: %d %+v retry %q", code, e, h.Get("Retry-After"))
	}
	if got := testutil.ToFloat64(n.con.logins.WithLabelValues("limited")); got != 1 {
		t.Fatalf("limited logins counted %v", got)
	}
	if got := testutil.ToFloat64(n.con.logins.WithLabelValues("wrong_key")); got != 3 {
		t.Fatalf("wrong keys counted %v", got)
	}
	n.clock.Add(time.Minute)
	if code := op.login("eve", testKey); code != http.StatusOK {
		t.Fatalf("after the window: %d", code)
	}
}

type listJSON struct {
	Matches []matchJSON `json:"matches"`
}

// On one instance: list and filter matches, open one (members with their figures), kick a
// player, end the match, drain the instance; every action is in the audit log with who did it.
func TestActionsAudited(t *testing.T) {
	n := start(t, "solo", nil)
	m, sinks := n.match(map[string]string{"mode": "ranked"}, "u-ann", "u-bob")
	other, _ := n.match(map[string]string{"mode": "casual"})
	op := n.client()
	if op.login("carol", testKey) != 200 {
		t.Fatal("login")
	}
	var l listJSON
	op.do("GET", "/console/api/matches?game=relay&label=mode:ranked", nil, &l)
	if len(l.Matches) != 1 || l.Matches[0].ID != m.ID() || l.Matches[0].Players != 2 || l.Matches[0].Owner.Node != "solo" {
		t.Fatalf("filtered list: %+v", l.Matches)
	}
	op.do("GET", "/console/api/matches?game=arena", nil, &l)
	if len(l.Matches) != 0 {
		t.Fatalf("arena filter: %+v", l.Matches)
	}
	if code, _ := op.do("GET", "/console/api/matches?label=nocolon", nil, nil); code != 400 {
		t.Fatalf("bad label filter: %d", code)
	}
	var d detailJSON
	if code, _ := op.do("GET", "/console/api/matches/"+m.ID(), nil, &d); code != 200 || len(d.Members) != 2 {
		t.Fatalf("detail: %d %+v", code, d)
	}
	if x := d.Members[0]; x.Name != "u-ann" || !x.Connected || x.Via != "" {
		t.Fatalf("member: %+v", x)
	}
	// Kick bob: his sink is detached as KICKED and the seat is gone.
	if code, _ := op.do("POST", "/console/api/matches/"+m.ID()+"/kick", map[string]any{"pid": d.Members[1].PID}, nil); code != 200 {
		t.Fatalf("kick: %d", code)
	}
	select {
	case r := <-sinks[1].detached:
		if r.String() != "KICKED" {
			t.Fatalf("detached %v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("bob was not kicked")
	}
	if code, _ := op.do("POST", "/console/api/matches/"+m.ID()+"/kick", map[string]any{"pid": 99}, nil); code != 404 {
		t.Fatalf("kick of nobody: %d", code)
	}
	// End it: answered once it is gone, so the next listing no longer has it.
	if code, _ := op.do("POST", "/console/api/matches/"+m.ID()+"/end", map[string]any{}, nil); code != 200 {
		t.Fatalf("end: %d", code)
	}
	op.do("GET", "/console/api/matches", nil, &l)
	if len(l.Matches) != 1 || l.Matches[0].ID != other.ID() {
		t.Fatalf("after end: %+v", l.Matches)
	}
	var e apiErr
	if code, _ := op.do("POST", "/console/api/matches/"+m.ID()+"/end", map[string]any{}, &e); code != 404 || e.Error.RequestID == "" {
		t.Fatalf("end again: %d %+v", code, e)
	}
	if code, _ := op.do("POST", "/console/api/instances/solo/drain", map[string]any{}, nil); code != http.StatusAccepted {
		t.Fatalf("drain: %d", code)
	}
	select {
	case <-n.drained:
	case <-time.After(5 * time.Second):
		t.Fatal("the drain hook was not called")
	}
	audit := n.log.lines("operator action")
	want := []string{"kick_player ok", "kick_player error", "end_match ok", "end_match error", "drain ok"}
	if len(audit) != len(want) {
		t.Fatalf("audit lines: %v", audit)
	}
	for i, a := range audit {
		if got := a["action"].(string) + " " + a["result"].(string); got != want[i] || a["who"] != "carol" || a["from"] != "127.0.0.1" || a["time"] == nil {
			t.Fatalf("audit %d: %v, want %s by carol", i, a, want[i])
		}
	}
	if audit[0]["match"] != m.ID() || audit[0]["pid"] != float64(d.Members[1].PID) {
		t.Fatalf("kick audit: %v", audit[0])
	}
	if got := testutil.ToFloat64(n.con.actions.WithLabelValues("end_match", "ok")); got != 1 {
		t.Fatalf("actions counted %v", got)
	}
}

// In a cluster, a console sees every instance (figures from the heartbeats, a ring of samples)
// and every match; opening, kicking in and ending a match owned by another instance goes
// through the bus, and both instances audit it.
func TestClusterActionsThroughTheBus(t *testing.T) {
	bus := memoryCluster()
	a := start(t, "node-a", bus("node-a"))
	b := start(t, "node-b", bus("node-b"))
	m, sinks := b.match(map[string]string{"mode": "ranked"}, "u-ann", "u-bob")
	op := a.client()
	if op.login("dave", testKey) != 200 {
		t.Fatal("login")
	}
	var inst struct {
		Instances []instanceJSON `json:"instances"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		op.do("GET", "/console/api/instances", nil, &inst)
		if len(inst.Instances) == 2 && inst.Instances[1].Matches == 1 && len(inst.Instances[1].Samples) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instances: %+v", inst.Instances)
		}
		time.Sleep(50 * time.Millisecond) // polling the heartbeats, not synchronising
	}
	self, other := inst.Instances[0], inst.Instances[1]
	if !self.Self || self.Node != "node-a" || other.Node != "node-b" || other.Health != "ok" || other.Version != "test" || other.Memory == 0 || other.Players != 2 {
		t.Fatalf("instances: %+v / %+v", self, other)
	}
	var l listJSON
	op.do("GET", "/console/api/matches?label=mode:ranked", nil, &l)
	if len(l.Matches) != 1 || l.Matches[0].Owner.Node != "node-b" {
		t.Fatalf("list: %+v", l.Matches)
	}
	var d detailJSON
	if code, _ := op.do("GET", "/console/api/matches/"+m.ID(), nil, &d); code != 200 || len(d.Members) != 2 || d.Match.Owner.Node != "node-b" {
		t.Fatalf("remote detail: %d %+v", code, d)
	}
	if code, _ := op.do("POST", "/console/api/matches/"+m.ID()+"/kick", map[string]any{"pid": d.Members[0].PID}, nil); code != 200 {
		t.Fatalf("remote kick: %d", code)
	}
	<-sinks[0].detached
	if code, _ := op.do("POST", "/console/api/matches/"+m.ID()+"/end", map[string]any{}, nil); code != 200 {
		t.Fatalf("remote end: %d", code)
	}
	select {
	case <-m.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the remote match did not end")
	}
	if len(a.log.lines("operator action")) != 2 || len(b.log.lines("operator action")) != 2 {
		t.Fatalf("audit: a %v, b %v", a.log.lines("operator action"), b.log.lines("operator action"))
	}
	if rec := b.log.lines("operator action")[1]; rec["who"] != "dave" || rec["via"] != "node-a" || rec["action"] != "end_match" {
		t.Fatalf("owner's audit: %v", rec)
	}
	if code, _ := op.do("POST", "/console/api/instances/node-b/drain", map[string]any{}, nil); code != http.StatusAccepted {
		t.Fatalf("remote drain: %d", code)
	}
	select {
	case <-b.drained:
	case <-time.After(5 * time.Second):
		t.Fatal("node-b's drain hook was not called")
	}
}
