package server

import (
	"testing"
	"time"
)

// The ping wheel pings every session about once per PingInterval (their pongs give each an
// RTT), and a closed session leaves the wheel.
func TestPingWheel(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.PingInterval = 160 * time.Millisecond })
	a, _ := ts.connect("a")
	ts.connect("b")
	sessions := ts.srv.hub.all()
	if len(sessions) != 2 {
		t.Fatalf("%d sessions", len(sessions))
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, s := range sessions {
		for s.rtt.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("a session was never pinged (no pong, no RTT)")
			}
			time.Sleep(10 * time.Millisecond) // polling a value, not synchronising: the wheel turns on its own
		}
	}
	// pinged again and again: every pong gives a new RTT (nanoseconds: never twice the same)
	s := sessions[0]
	first := s.rtt.Load()
	for s.rtt.Load() == first {
		if time.Now().After(deadline) {
			t.Fatal("a session was pinged only once")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.conn.NetConn().Close()
	for {
		n := 0
		ts.srv.pinger.mu.Lock()
		for _, slot := range ts.srv.pinger.slots {
			n += len(slot)
		}
		ts.srv.pinger.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions on the wheel after one closed", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
