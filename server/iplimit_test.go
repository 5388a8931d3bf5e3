package server

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// guestFrom asks for a guest token with an X-Forwarded-For header (empty: none) and returns the
// status and the Retry-After header.
func (ts *testServer) guestFrom(xff string) (int, string) {
	ts.t.Helper()
	req, _ := http.NewRequest("POST", ts.base+"/v1/auth/guest", strings.NewReader(`{"name":"g"}`))
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// One address gets a burst of guest tokens, then 429 with Retry-After; a spoofed
// X-Forwarded-For does not buy a new budget unless the peer is a trusted proxy.
func TestGuestTokensRateLimitedPerIP(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.GuestRate = 0.01; c.GuestBurst = 5 })
	issued := 0
	var retry string
	for i := 0; i < 200; i++ {
		st, ra := ts.guestFrom("198.51.100." + strconv.Itoa(i%250)) // not trusted: ignored
		if st == 200 {
			issued++
			continue
		}
		if st != http.StatusTooManyRequests {
			t.Fatalf("request %d: %d, want 200 or 429", i, st)
		}
		retry = ra
	}
	t.Logf("200 guest requests from one address: %d tokens issued", issued)
	if issued != 5 {
		t.Fatalf("%d guest tokens from one address, want the burst of 5", issued)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 {
		t.Fatalf("Retry-After %q", retry)
	}
	if got := testutil.ToFloat64(ts.srv.metrics.limited.WithLabelValues("guest_rate")); got != 195 {
		t.Fatalf("guest_rate refusals counted %v, want 195", got)
	}

	// Behind a trusted proxy, each forwarded client has its own budget; what the client wrote
	// to the left of the proxy's own entry does not count.
	pr := startServer(t, func(c *Config) { c.GuestRate = 0.01; c.GuestBurst = 2; c.TrustedProxies = []string{"127.0.0.0/8"} })
	for i := 0; i < 2; i++ {
		if st, _ := pr.guestFrom("203.0.113.9, 198.51.100.1"); st != 200 {
			t.Fatalf("forwarded client, token %d: %d", i, st)
		}
	}
	if st, _ := pr.guestFrom("203.0.113.10, 198.51.100.1"); st != http.StatusTooManyRequests {
		t.Fatalf("same forwarded client, spoofed left entry: %d, want 429", st)
	}
	if st, _ := pr.guestFrom("198.51.100.2"); st != 200 {
		t.Fatalf("another forwarded client: %d", st)
	}
}

func TestConnectionCapPerIP(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnsPerIP = 3; c.GuestBurst = 100 })
	for i := 0; i < 3; i++ {
		tok, _ := ts.guest("u" + strconv.Itoa(i))
		if _, st, err := ts.dial(tok, nil); err != nil {
			t.Fatalf("conn %d: %d %v", i, st, err)
		}
	}
	tok, _ := ts.guest("fourth")
	if _, st, _ := ts.dial(tok, nil); st != http.StatusServiceUnavailable {
		t.Fatalf("fourth connection from one address (another user): %d, want 503", st)
	}
	if got := testutil.ToFloat64(ts.srv.metrics.limited.WithLabelValues("conns_ip")); got != 1 {
		t.Fatalf("conns_ip refusals %v", got)
	}
}

func TestClientIPFromTrustedProxiesOnly(t *testing.T) {
	mk := func(list ...string) *Server {
		p, err := parseProxies(list)
		if err != nil {
			t.Fatal(err)
		}
		return &Server{proxies: p}
	}
	if _, err := parseProxies([]string{"10.0.0.0/8", "not-an-ip"}); err == nil {
		t.Fatal("a bad trusted proxy was accepted")
	}
	for _, c := range []struct {
		srv       *Server
		peer, xff string
		want      string
	}{
		{mk(), "192.0.2.1:5000", "203.0.113.5", "192.0.2.1"},                                 // no proxies: the peer
		{mk("10.0.0.0/8"), "192.0.2.1:5000", "203.0.113.5", "192.0.2.1"},                     // peer not trusted
		{mk("10.0.0.0/8"), "10.1.2.3:5000", "203.0.113.5", "203.0.113.5"},                    // one proxy
		{mk("10.0.0.0/8"), "10.1.2.3:5000", "1.1.1.1, 203.0.113.5, 10.9.9.9", "203.0.113.5"}, // a chain
		{mk("10.0.0.0/8"), "10.1.2.3:5000", "10.2.2.2", "10.2.2.2"},                          // all trusted: the leftmost
		{mk("10.0.0.0/8"), "10.1.2.3:5000", "garbage, 203.0.113.5", "203.0.113.5"},           // malformed left of the client
		{mk("10.0.0.0/8"), "10.1.2.3:5000", "203.0.113.5, garbage", "10.1.2.3"},              // malformed at the right: the peer
		{mk("::1"), "[::1]:5000", "2001:db8::1", "2001:db8::1"},
	} {
		r := &http.Request{RemoteAddr: c.peer, Header: http.Header{"X-Forwarded-For": {c.xff}}}
		if got := c.srv.clientIP(r); got != netip.MustParseAddr(c.want) {
			t.Errorf("peer %s xff %q: %v, want %s", c.peer, c.xff, got, c.want)
		}
	}
	if k1, k2 := ipKey(netip.MustParseAddr("2001:db8::1")), ipKey(netip.MustParseAddr("2001:db8::ffff:1")); k1 != k2 {
		t.Fatalf("one /64 has two keys: %s %s", k1, k2)
	}
}
