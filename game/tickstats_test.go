package game

import (
	"testing"
	"time"
)

// The p99 is the nearest-rank 99th percentile of the last tickWindow ticks, shown from the
// first tick on; overruns count every overrun.
func TestTickStatsP99(t *testing.T) {
	var s tickStats
	s.observe(3*time.Millisecond, false)
	if got := time.Duration(s.p99.Load()); got != 3*time.Millisecond {
		t.Fatalf("after one tick: %v", got)
	}
	for i := 1; i <= 255; i++ {
		s.observe(time.Duration(i)*time.Microsecond, i > 253)
	}
	// 256 ticks (recomputed at the window's end): {1..255 µs, 3 ms}; the nearest rank
	// ceil(0.99*256) = 254 is 254 µs.
	if got := time.Duration(s.p99.Load()); got != 254*time.Microsecond {
		t.Fatalf("p99 %v, want 254µs", got)
	}
	if s.overruns.Load() != 2 {
		t.Fatalf("overruns %d", s.overruns.Load())
	}
	// The window slides: 256 fast ticks later the slow ones are gone.
	for i := 0; i < tickWindow; i++ {
		s.observe(time.Microsecond, false)
	}
	if got := time.Duration(s.p99.Load()); got != time.Microsecond {
		t.Fatalf("after the window slid: %v", got)
	}
}
