package hist

import (
	"sync"
	"testing"
	"time"
)

func TestSummarizeUniform(t *testing.T) {
	s := NewSharded(4)
	// 1..1000 ms, one value each: p50 ≈ 500 ms, p99 ≈ 990 ms, max 1000 ms.
	for i := 1; i <= 1000; i++ {
		s.Record(i, time.Duration(i)*time.Millisecond)
	}
	sum := Summarize(s.Merged())
	if sum.Count != 1000 {
		t.Fatalf("count %d", sum.Count)
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if got < want*0.995 || got > want*1.005 {
			t.Errorf("%s = %v, want ≈ %v", name, got, want)
		}
	}
	near("p50", sum.P50, 500)
	near("p90", sum.P90, 900)
	near("p99", sum.P99, 990)
	near("p999", sum.P999, 999)
	near("max", sum.Max, 1000)
	near("mean", sum.Mean, 500.5)
}

func TestSummarizeEmptyAndClamp(t *testing.T) {
	if got := Summarize(NewSharded(1).Merged()); got != (Summary{}) {
		t.Fatalf("empty: %+v", got)
	}
	if got := Summarize(nil); got != (Summary{}) {
		t.Fatalf("nil: %+v", got)
	}
	s := NewSharded(0)
	s.Record(0, 0)              // below range: clamped to 1 µs
	s.Record(-3, 2*time.Minute) // above range: clamped to 60 s; negative key still picks a shard
	sum := Summarize(s.Merged())
	if sum.Count != 2 || sum.Max < 59_900 || sum.Max > 60_100 {
		t.Fatalf("clamp: %+v", sum)
	}
}

func TestShardedConcurrent(t *testing.T) {
	s := NewSharded(8)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				s.Record(g, time.Millisecond)
			}
		}(g)
	}
	wg.Wait()
	if n := s.Merged().TotalCount(); n != 16*500 {
		t.Fatalf("count %d", n)
	}
}
