// Package hist records latencies into HdrHistograms shared by many goroutines and summarises
// them as the percentiles the benchmark reports.
package hist

import (
	"math"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Values are recorded in microseconds from 1 µs to 60 s with 3 significant digits.
const (
	lowest  = 1
	highest = 60_000_000
	sigfigs = 3
)

// NewHistogram returns an empty histogram with the geometry used throughout the harness.
func NewHistogram() *hdr.Histogram { return hdr.New(lowest, highest, sigfigs) }

// Sharded is a histogram that many goroutines record into: each records into the shard its key
// picks (a client id), so contention stays low without a histogram per client (each is ~100 KB).
type Sharded struct {
	shards []shard
}

type shard struct {
	mu sync.Mutex
	h  *hdr.Histogram
	_  [40]byte // keep shards on separate cache lines
}

// NewSharded returns a histogram with n shards (at least 1).
func NewSharded(n int) *Sharded {
	if n < 1 {
		n = 1
	}
	s := &Sharded{shards: make([]shard, n)}
	for i := range s.shards {
		s.shards[i].h = NewHistogram()
	}
	return s
}

// Record adds d to the shard chosen by key. Values outside the range are clamped to it.
func (s *Sharded) Record(key int, d time.Duration) {
	us := d.Microseconds()
	if us < lowest {
		us = lowest
	} else if us > highest {
		us = highest
	}
	sh := &s.shards[uint(key)%uint(len(s.shards))]
	sh.mu.Lock()
	_ = sh.h.RecordValue(us)
	sh.mu.Unlock()
}

// Merged returns a new histogram holding every shard's values.
func (s *Sharded) Merged() *hdr.Histogram {
	out := NewHistogram()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		out.Merge(sh.h)
		sh.mu.Unlock()
	}
	return out
}

// Summary is a histogram's headline figures in milliseconds.
type Summary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// Summarize returns h's percentiles in milliseconds (rounded to µs). An empty histogram gives a
// zero Summary.
func Summarize(h *hdr.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	ms := func(us int64) float64 { return round3(float64(us) / 1000) }
	return Summary{
		Count: h.TotalCount(),
		Mean:  round3(h.Mean() / 1000),
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
