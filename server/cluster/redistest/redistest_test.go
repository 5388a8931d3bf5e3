package redistest

import (
	"strings"
	"testing"
	"time"
)

func TestStandaloneFaults(t *testing.T) {
	s := Start(t)
	if out, err := s.Do("SET", "k", "v"); err != nil || out != "OK" {
		t.Fatalf("SET: %q %v", out, err)
	}
	if out, _ := s.Do("CONFIG", "GET", "save"); !strings.HasSuffix(out, "\n") {
		t.Fatalf("persistence is on: save = %q", out)
	}
	if err := s.Freeze(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DoTimeout(300*time.Millisecond, "PING"); err == nil {
		t.Fatal("a frozen server answered PING")
	}
	if err := s.Thaw(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Do("PING"); err != nil {
		t.Fatalf("PING after thaw: %v", err)
	}
	pid := s.PID()
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Do("PING"); err == nil {
		t.Fatal("a killed server answered PING")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.PID() == pid || s.PID() == 0 {
		t.Fatalf("restart: pid %d, was %d", s.PID(), pid)
	}
	if out, err := s.Do("GET", "k"); err != nil || out != "" {
		t.Fatalf("data survived a kill -9 without persistence: %q %v", out, err)
	}
}

func TestCluster(t *testing.T) {
	c := StartCluster(t, 3)
	owners := map[string]bool{}
	for _, slot := range []int{0, 8000, 16383} {
		s, err := c.Owner(slot)
		if err != nil {
			t.Fatal(err)
		}
		owners[s.Addr] = true
	}
	if len(owners) != 3 {
		t.Fatalf("slots 0, 8000, 16383 should be on 3 masters, are on %v", owners)
	}
	from, err := c.Owner(100)
	if err != nil {
		t.Fatal(err)
	}
	to := c.Nodes[0]
	if to == from {
		to = c.Nodes[1]
	}
	// A key in slot 100 moves with it: find one.
	key := ""
	for i := 0; key == ""; i++ {
		k := "key" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		if out, _ := from.Do("CLUSTER", "KEYSLOT", k); out == "100" {
			key = k
		}
		if i > 200000 {
			t.Fatal("no key for slot 100")
		}
	}
	if _, err := from.Do("SET", key, "v"); err != nil {
		t.Fatal(err)
	}
	if err := c.MoveSlot(100, to); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Owner(100); err != nil || got != to {
		t.Fatalf("slot 100 on %v after the move to %s (%v)", got, to.Addr, err)
	}
	if out, err := to.Do("GET", key); err != nil || out != "v" {
		t.Fatalf("moved key: %q %v", out, err)
	}
	if err := c.WaitOK(ReadyTimeout); err != nil {
		t.Fatal(err)
	}
}
