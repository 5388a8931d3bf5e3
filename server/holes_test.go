package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lxzan/gws"

	"github.com/tickrelay/tickrelay/protocol"
)

// A JOIN whose ticket is for another match than the one it names is refused, and the ticket
// still works afterwards.
func TestWrongMatchJoinKeepsTheTicket(t *testing.T) {
	ts := startServer(t)
	c, tok := ts.connect("ann")
	mine := ts.create(tok, map[string]any{"game": "relay"})
	other := ts.create(tok, map[string]any{"game": "relay"})
	req := c.nextReq()
	c.send(protocol.ClientMsg{Op: protocol.OpJoin, Req: req, Match: other.Match.ID, Ticket: mine.Reservation.Ticket})
	if m := c.expect(protocol.OpError); m.Code != protocol.ErrCodeForbidden || m.RefID != req {
		t.Fatalf("wrong-match JOIN: %+v, want FORBIDDEN", m)
	}
	if j := c.join(mine.Match.ID, mine.Reservation.Ticket); j.Match != mine.Match.ID {
		t.Fatalf("joined %q", j.Match)
	}
}

// With permessage-deflate on, a frame that inflates past the read limit closes with 1009
// (terminal: the client must not reconnect and send it again), not 1011.
func TestDecompressionBombCloses1009(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Compression = true })
	tok, _ := ts.guest("bomb")
	c, st, err := ts.dialWith(tok, nil, func(o *gws.ClientOption) { o.PermessageDeflate = gws.PermessageDeflate{Enabled: true} })
	if err != nil {
		t.Fatalf("dial: %d %v", st, err)
	}
	c.expect(protocol.OpWelcome)
	bomb := bytes.Repeat([]byte{0}, 4<<20) // 4 MiB of zeros: about 4 KiB on the wire
	if err := c.conn.WriteMessage(gws.OpcodeBinary, bomb); err != nil {
		t.Fatal(err)
	}
	if code := c.closedWith(5 * time.Second); code != uint16(protocol.CloseTooBig) {
		t.Fatalf("decompression bomb: close %d, want 1009", code)
	}
}

// The default Origin rule is the configured public origin and loopback pages, never the
// request's Host: a DNS-rebinding page (Host = Origin = evil.example) is refused.
func TestOriginDefaultRefusesDNSRebinding(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.PublicURL = "wss://play.example" })
	tok, _ := ts.guest("o")
	for _, c := range []struct {
		host, origin string
		want         int
	}{
		{"evil.example", "http://evil.example", 403}, // rebinding: Host equals Origin
		{"evil.example:8080", "http://evil.example:8080", 403},
		{"", "https://play.example", 101}, // the public URL's origin
		{"", "http://play.example", 403},  // not its scheme
		{"", "http://localhost:5173", 101},
		{"", "http://127.0.0.1:3000", 101},
		{"", "http://[::1]:3000", 101},
		{"", "http://localhost.evil.example", 403},
		{"", "file://", 403},
	} {
		h := http.Header{"Origin": {c.origin}}
		if c.host != "" {
			h.Set("Host", c.host)
		}
		_, st, _ := ts.dialWith(tok, h, func(o *gws.ClientOption) {
			if c.host != "" {
				o.RequestHeader.Set("Host", c.host)
			}
		})
		if st != c.want {
			t.Errorf("Host %q Origin %q: %d, want %d", c.host, c.origin, st, c.want)
		}
	}
}

// A session token that is valid for years is refused, even when correctly signed.
func TestSessionTokenLifetimeCapped(t *testing.T) {
	ts := startServer(t)
	now := time.Now()
	claims := func(exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"iss": "tickrelay", "aud": "session", "sub": "backend-user", "name": "b", "exp": exp.Unix(), "iat": now.Unix()}
	}
	far := signHS(t, jwt.SigningMethodHS256, testSecret, claims(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)))
	// (A WebSocket with a refused token is upgraded and closed 4100 AUTH at once: browsers see that.)
	c, st, _ := ts.dial(far, nil)
	if st != 101 {
		t.Fatalf("exp 9999-12-31: %d, want 101 then close 4100", st)
	}
	if <-c.done; c.code() != uint16(protocol.CloseAuth) {
		t.Fatalf("exp 9999-12-31: closed %d, want 4100", c.code())
	}
	var e map[string]apiError
	if st := ts.do("POST", "/v1/matches", far, map[string]any{"game": "relay"}, &e); st != 401 || !strings.Contains(e["error"].Message, "lifetime") {
		t.Fatalf("exp 9999-12-31 on the HTTP API: %d %+v", st, e)
	}
	week := signHS(t, jwt.SigningMethodHS256, testSecret, claims(now.Add(6*24*time.Hour)))
	if _, st, err := ts.dial(week, nil); st != 101 {
		t.Fatalf("a token valid for 6 days: %d %v", st, err)
	}
}
