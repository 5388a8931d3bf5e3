package matchmaking

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/server"
)

// BenchmarkMatchmakerDuel feeds tickets at 1,000/s (half duel, half arena) into a matchmaker
// with real placement on a server (no HTTP), and reports the time-to-match percentiles.
func BenchmarkMatchmakerDuel(b *testing.B) {
	srv, err := server.New(server.Config{Secret: testSecret, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	done := make(chan *Ticket, 20000)
	var mm *Matchmaker
	mm, err = New(Config{}, Options{Placer: NewLocalPlacer(srv), Log: slog.New(slog.DiscardHandler),
		Notify: func(p string, t *Ticket) {
			if t.Status.Terminal() {
				done <- t
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	mm.Start()
	defer mm.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	n := 5000
	regions := []string{"eu", "na", "sa", "me", "as", "oc"}
	start := time.Now()
	b.ResetTimer()
	for i := range n {
		at := start.Add(time.Duration(i) * time.Millisecond)
		time.Sleep(time.Until(at))
		q := "duel"
		if i%2 == 1 {
			q = "arena"
		}
		_, err := mm.Submit(context.Background(), Member{ID: fmt.Sprintf("p%d", i)}, Request{Queue: q,
			Properties: map[string]any{"skill": math.Round(1500 + rng.NormFloat64()*300), "region": regions[rng.IntN(6)]}})
		if err != nil {
			b.Fatal(err)
		}
	}
	var duel []float64
	for range n {
		t := <-done
		if t.Queue == "duel" && t.Status == Matched {
			duel = append(duel, float64(t.Ended.Sub(t.Created).Milliseconds()))
		}
	}
	sort.Float64s(duel)
	b.ReportMetric(duel[len(duel)/2], "p50_ms")
	b.ReportMetric(duel[len(duel)*99/100], "p99_ms")
	b.Logf("elapsed %v, duel matched %d", time.Since(start), len(duel))
}
