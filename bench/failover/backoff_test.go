package failover

import (
	"testing"
	"time"
)

func TestFullJitterSpreadsACrowd(t *testing.T) {
	base := time.Now()
	var ts []time.Time
	for i := 0; i < 1000; i++ {
		d := FullJitter(0, 2*time.Second, 8*time.Second)
		if d < 0 || d >= 2*time.Second {
			t.Fatalf("first delay %v outside [0, 2 s)", d)
		}
		ts = append(ts, base.Add(d))
	}
	span, densest := spread(ts, 100*time.Millisecond)
	if span < 1.9 || densest > 0.15 {
		t.Fatalf("1,000 first delays span %.2f s, densest 100 ms %.1f%%", span, 100*densest)
	}
	for a := 0; a < 80; a++ {
		if d := FullJitter(a, 2*time.Second, 8*time.Second); d < 0 || d >= 8*time.Second {
			t.Fatalf("attempt %d: %v outside [0, cap)", a, d)
		}
	}
}

func TestMovedAddr(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8082":    "127.0.0.1:8082",
		" https://eu.example:443 ": "eu.example:443",
		"ws://h:1/x":               "h:1",
		"":                         "",
		"javascript:alert(1)":      "",
		"ftp://h:1":                "",
		"http://u:p@h:1":           "",
		"/relative":                "",
		"h:1":                      "",
	} {
		if got := MovedAddr(in); got != want {
			t.Errorf("MovedAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
