package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lxzan/gws"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

func TestOriginChecks(t *testing.T) {
	ts := startServer(t)
	tok, _ := ts.guest("o")
	host := strings.TrimPrefix(ts.base, "http://")
	for _, c := range []struct {
		origin string
		want   int
	}{
		{"", 101},                    // not a browser
		{"http://" + host, 101},      // the server's own origin
		{"http://evil.example", 403}, // another site
		{"http://" + host + ".evil", 403},
		{"null", 403},
	} {
		h := http.Header{}
		if c.origin != "" {
			h.Set("Origin", c.origin)
		}
		_, st, _ := ts.dial(tok, h)
		if st != c.want {
			t.Errorf("origin %q: status %d, want %d", c.origin, st, c.want)
		}
	}
	allow := startServer(t, func(c *Config) { c.AllowedOrigins = []string{"https://game.example"} })
	tok2, _ := allow.guest("o")
	for origin, want := range map[string]int{"https://game.example": 101, "https://other.example": 403} {
		_, st, _ := allow.dial(tok2, http.Header{"Origin": {origin}})
		if st != want {
			t.Errorf("allow-list origin %q: %d, want %d", origin, st, want)
		}
	}
}

func signHS(t *testing.T, alg jwt.SigningMethod, key []byte, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(alg, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawJWT builds a token from a header and claims by hand, signed HS256 with key (nil: unsigned).
func rawJWT(header, claims string, key []byte) string {
	enc := base64.RawURLEncoding.EncodeToString
	unsigned := enc([]byte(header)) + "." + enc([]byte(claims))
	if key == nil {
		return unsigned + "."
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc(mac.Sum(nil))
}

func TestTokenForgeriesRefusedBeforeUpgrade(t *testing.T) {
	ts := startServer(t)
	good, player := ts.guest("f")
	now := time.Now()
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "tickrelay", "aud": "session", "sub": player, "name": "f",
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "x"}
	}
	with := func(k string, v any) jwt.MapClaims { c := base(); c[k] = v; return c }
	without := func(k string) jwt.MapClaims { c := base(); delete(c, k); return c }
	parts := strings.Split(good, ".")
	forgeries := map[string]string{
		"missing":              "",
		"garbage":              "not-a-jwt",
		"alg none":             rawJWT(`{"alg":"none","typ":"JWT"}`, `{"iss":"tickrelay","aud":"session","sub":"`+player+`","exp":9999999999}`, nil),
		"alg None":             rawJWT(`{"alg":"None","typ":"JWT"}`, `{"iss":"tickrelay","aud":"session","sub":"`+player+`","exp":9999999999}`, nil),
		"alg HS384 same key":   signHS(t, jwt.SigningMethodHS384, testSecret, base()),
		"alg HS512 same key":   signHS(t, jwt.SigningMethodHS512, testSecret, base()),
		"RS256 header, HMAC":   rawJWT(`{"alg":"RS256","typ":"JWT"}`, `{"iss":"tickrelay","aud":"session","sub":"`+player+`","exp":9999999999}`, testSecret),
		"wrong secret":         signHS(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-123"), base()),
		"signature stripped":   parts[0] + "." + parts[1] + ".",
		"signature swapped":    parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"root"}`)) + "." + parts[2],
		"expired":              signHS(t, jwt.SigningMethodHS256, testSecret, with("exp", now.Add(-time.Hour).Unix())),
		"no expiry":            signHS(t, jwt.SigningMethodHS256, testSecret, without("exp")),
		"wrong issuer":         signHS(t, jwt.SigningMethodHS256, testSecret, with("iss", "someone-else")),
		"no issuer":            signHS(t, jwt.SigningMethodHS256, testSecret, without("iss")),
		"join audience":        signHS(t, jwt.SigningMethodHS256, testSecret, with("aud", "join")),
		"audience list, wrong": signHS(t, jwt.SigningMethodHS256, testSecret, with("aud", []string{"admin"})),
		"no subject":           signHS(t, jwt.SigningMethodHS256, testSecret, without("sub")),
		"exp as string":        signHS(t, jwt.SigningMethodHS256, testSecret, with("exp", "tomorrow")),
		"oversized":            signHS(t, jwt.SigningMethodHS256, testSecret, with("pad", strings.Repeat("x", 5000))),
	}
	// A WebSocket upgrade with a refused token is accepted and closed at once with 4100 AUTH
	// (a browser sees nothing of a 401 to an upgrade), before any frame; no session exists.
	for name, tok := range forgeries {
		c, st, err := ts.dial(tok, nil)
		if err != nil || st != 101 {
			t.Errorf("%s: status %d (%v), want 101 then close 4100", name, st, err)
			continue
		}
		<-c.done
		if code := c.code(); code != uint16(protocol.CloseAuth) || len(c.frames) != 0 {
			t.Errorf("%s: closed with %d after %d frames, want 4100 and none", name, code, len(c.frames))
		}
	}
	// Anything but a WebSocket upgrade still gets the JSON 401.
	for _, tok := range []string{"", "not-a-jwt"} {
		resp, err := http.Get(ts.base + "/ws?token=" + tok)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error apiError }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || body.Error.Name != "UNAUTHORIZED" {
			t.Errorf("plain GET /ws?token=%q: %d %+v, want 401 UNAUTHORIZED", tok, resp.StatusCode, body)
		}
	}
	if len(forgeries) < 15 {
		t.Fatalf("only %d forgeries", len(forgeries))
	}
	// A valid token made by hand with the same secret (a backend's own token) is accepted.
	if _, st, err := ts.dial(signHS(t, jwt.SigningMethodHS256, testSecret, base()), nil); st != 101 {
		t.Fatalf("a valid backend-minted token was refused: %d %v", st, err)
	}
	// The Authorization header works as well as the query parameter.
	if _, st, err := ts.dial("", http.Header{"Authorization": {"Bearer " + good}}); st != 101 {
		t.Fatalf("Authorization header: %d %v", st, err)
	}
}

func TestSubprotocolRequired(t *testing.T) {
	ts := startServer(t)
	tok, _ := ts.guest("s")
	if _, st, _ := ts.dial(tok, http.Header{"Sec-WebSocket-Protocol": {"chat"}}); st != 400 {
		t.Fatalf("no tickrelay.v1: status %d, want 400", st)
	}
	c, _, err := ts.dial(tok, nil)
	if err != nil || c.conn.SubProtocol() != protocol.Subprotocol {
		t.Fatalf("negotiated %q (%v)", c.conn.SubProtocol(), err)
	}
}

func TestConnectionCaps(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConns = 3; c.MaxConnsPerUser = 2 })
	tok, _ := ts.guest("u")
	for i := 0; i < 2; i++ {
		if _, st, err := ts.dial(tok, nil); err != nil {
			t.Fatalf("conn %d: %d %v", i, st, err)
		}
	}
	if _, st, _ := ts.dial(tok, nil); st != 503 {
		t.Fatalf("third connection of one user: %d, want 503", st)
	}
	other, _ := ts.guest("v")
	if _, st, err := ts.dial(other, nil); err != nil {
		t.Fatalf("another user: %d %v", st, err)
	}
	third, _ := ts.guest("w")
	if _, st, _ := ts.dial(third, nil); st != 503 {
		t.Fatalf("over the total cap: %d, want 503", st)
	}
}

func TestOversizedAndTextFramesClose(t *testing.T) {
	ts := startServer(t)
	big, _ := ts.connect("big")
	_ = big.conn.WriteMessage(gws.OpcodeBinary, make([]byte, 17<<10))
	if code := big.closedWith(3 * time.Second); code != uint16(protocol.CloseTooBig) {
		t.Fatalf("oversized frame: close %d, want 1009", code)
	}
	text, _ := ts.connect("text")
	_ = text.conn.WriteString("hello")
	if code := text.closedWith(3 * time.Second); code != uint16(protocol.CloseUnsupported) {
		t.Fatalf("text frame: close %d, want 1003", code)
	}
}

func TestMalformedAndUnknownGetErrorsThenClose(t *testing.T) {
	ts := startServer(t)
	c, _ := ts.connect("bad")
	_ = c.conn.WriteMessage(gws.OpcodeBinary, []byte{0x94, 0x04, 0xc1}) // INPUT with an invalid byte
	if m := c.expect(protocol.OpError); m.Code != protocol.ErrCodeMalformed || m.RefOp != protocol.OpInput {
		t.Fatalf("malformed: %+v", m)
	}
	_ = c.conn.WriteMessage(gws.OpcodeBinary, []byte{0x91, 0x1e}) // op 30: unknown
	if m := c.expect(protocol.OpError); m.Code != protocol.ErrCodeUnknownOp || m.RefOp != 30 {
		t.Fatalf("unknown op: %+v", m)
	}
	_ = c.conn.WriteMessage(gws.OpcodeBinary, []byte{0xdd, 0xff, 0xff, 0xff, 0xff}) // hostile header
	if m := c.expect(protocol.OpError); m.Code != protocol.ErrCodeMalformed {
		t.Fatalf("hostile header: %+v", m)
	}
	// The connection still works; repeated bad frames close it.
	c.send(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 7)})
	c.expect(protocol.OpPong)
	for i := 0; i < 10; i++ {
		_ = c.conn.WriteMessage(gws.OpcodeBinary, []byte{0xc1})
	}
	if code := c.closedWith(3 * time.Second); code != uint16(protocol.CloseBadFrames) {
		t.Fatalf("close %d, want 4101", code)
	}
}

func TestInputFloodDroppedThenClosed(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.InputRate = 10; c.InputBurst = 5; c.FloodClose = 50 })
	c, tok := ts.connect("flood")
	cr := ts.create(tok, map[string]any{"game": "arena"})
	c.join("", cr.Reservation.Ticket)
	for seq := uint32(1); seq <= 200; seq++ {
		if err := c.conn.WriteMessage(gws.OpcodeBinary, protocol.AppendInput(nil, seq, 0, []byte{0x92, 0, 0})); err != nil {
			break
		}
	}
	if m := c.expect(protocol.OpError); m.Code != protocol.ErrCodeRateLimited {
		t.Fatalf("want RATE_LIMITED, got %+v", m)
	}
	if code := c.closedWith(3 * time.Second); code != uint16(protocol.CloseRateLimit) {
		t.Fatalf("close %d, want 4102", code)
	}
	if got := testutil.ToFloat64(ts.srv.metrics.rateLimited); got < 50 {
		t.Fatalf("rate-limited counter %v", got)
	}
}

func TestIdleSessionClosed(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.IdleTimeout = 200 * time.Millisecond })
	c, _ := ts.connect("idle")
	if code := c.closedWith(3 * time.Second); code != uint16(protocol.CloseIdle) {
		t.Fatalf("close %d, want 4103", code)
	}
}

// A client that stops reading is closed with 4001; another member of the same match keeps
// receiving with low latency.
func TestSlowReaderClosedFastReaderUnaffected(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.InputRate = 100000; c.InputBurst = 100000; c.MaxFrame = 64 << 10 })
	sender, tok := ts.connect("sender")
	slow, _ := ts.connect("slow")
	fast, _ := ts.connect("fast")
	cr := ts.create(tok, map[string]any{"game": "relay"})
	sender.join("", cr.Reservation.Ticket)
	slow.join(cr.Match.ID, "")
	fast.join(cr.Match.ID, "")
	slow.mu.Lock()
	slow.block = make(chan struct{}) // stops reading: its socket buffers fill
	slow.mu.Unlock()
	// The sender reads what it gets (ERRORs for the messages over its share of a tick).
	go func() {
		for {
			select {
			case <-sender.frames:
			case <-sender.done:
				return
			}
		}
	}()
	// The sender is paced by the fast reader: each round sends 64 KiB and waits for the fast
	// reader's PONG (frames arrive in order, so the fast reader has drained the round). The slow
	// reader falls further behind every round until its socket buffers fill.
	payload := protocol.AppendBytes(nil, make([]byte, 16<<10))
	var maxRTT time.Duration
	var before, peak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	deadline := time.Now().Add(20 * time.Second)
	for testutil.ToFloat64(ts.srv.metrics.slowCloses) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow reader was not closed within 20 s")
		}
		for i := 0; i < 4; i++ {
			sender.send(protocol.ClientMsg{Op: protocol.OpMessage, ToAll: true, Payload: payload})
		}
		start := time.Now()
		fast.send(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 1)})
		fast.expect(protocol.OpPong)
		if rtt := time.Since(start); rtt > maxRTT {
			maxRTT = rtt
		}
		var now runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&now)
		if now.HeapInuse > peak.HeapInuse {
			peak = now
		}
	}
	growth := int64(peak.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use grew by at most %d KiB while the slow reader filled (outbound cap 1 MiB)", growth>>10)
	if growth > 8<<20 {
		t.Fatalf("heap grew by %d MiB with one slow reader: the outbound queue is not bounded", growth>>20)
	}
	if maxRTT > 500*time.Millisecond {
		t.Fatalf("the fast reader's ping took up to %v while the slow one was filling", maxRTT)
	}
	select {
	case <-fast.done:
		t.Fatal("the fast reader was closed")
	default:
	}
	// The fast reader is still in the match and still served.
	// (fast sends it with echo: the sender may still have 4 messages queued for this tick,
	// the per-player cap, and a fifth would be dropped by design.)
	fast.send(protocol.ClientMsg{Op: protocol.OpMessage, ToAll: true, Echo: true, Payload: protocol.AppendString(nil, "still here")})
	for {
		if fast.messagesUntilMessage(t) == "still here" {
			break
		}
	}
	t.Logf("slow reader closed; fast reader's worst ping RTT meanwhile %v", maxRTT)
}

// panicky panics in Step once anyone has joined.
type panicky struct{ game.Base }

func (panicky) Step(ctx *game.Ctx) {
	if ctx.PlayerCount() > 0 {
		panic("game bug")
	}
}

func TestPanicInOneMatchLeavesOthersRunning(t *testing.T) {
	var created atomic.Int32
	ts := startServer(t, func(c *Config) {
		c.Catalog = DefaultCatalog()
		c.Catalog.Register(game.GameType{Name: "panicky", New: func() game.Logic { created.Add(1); return panicky{} }})
	})
	a, tok := ts.connect("a")
	b, tokB := ts.connect("b")
	bad := ts.create(tok, map[string]any{"game": "panicky"})
	good := ts.create(tokB, map[string]any{"game": "arena"})
	b.join("", good.Reservation.Ticket)
	req := a.nextReq()
	a.send(protocol.ClientMsg{Op: protocol.OpJoin, Req: req, Ticket: bad.Reservation.Ticket})
	if end := a.expect(protocol.OpEnd); end.Reason != protocol.EndError {
		t.Fatalf("END %+v, want reason error", end)
	}
	// The process and the other match are fine.
	b.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: 1, Payload: []byte{0x92, 1, 0}})
	for {
		if m := b.next(); m.Op == protocol.OpDelta && m.HasAck && m.Ack == 1 {
			break
		}
	}
	// The JOIN itself is answered: either the seat was recorded and then dropped by the END
	// (nothing more to say), or the match ended before the answer reached the session, which
	// answers that JOIN with MATCH_ENDED. Both are right; a PONG marks the end of the answers.
	a.send(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 1)})
	for m := a.next(); m.Op != protocol.OpPong; m = a.next() {
		if m.Op != protocol.OpError || m.Code != protocol.ErrCodeMatchEnded || m.RefID != req {
			t.Fatalf("after END: %+v", m)
		}
	}
	// And the first player can join another match on the same connection.
	other := ts.create(tok, map[string]any{"game": "arena"})
	a.join("", other.Reservation.Ticket)
}
