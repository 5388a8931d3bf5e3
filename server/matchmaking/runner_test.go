package matchmaking

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Widening must happen while tickets keep arriving: runs on arrival (many per second) must not
// keep postponing the timer-driven run that widens the waiting tickets' windows.
func TestWideningDuringArrivals(t *testing.T) {
	ts := startServer(t, Config{})
	mm := ts.mm
	ctx := context.Background()
	a, err := mm.Submit(ctx, Member{ID: "far-a"}, Request{Queue: "duel", Properties: map[string]any{"skill": 1000.0, "region": "eu"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mm.Submit(ctx, Member{ID: "far-b"}, Request{Queue: "duel", Properties: map[string]any{"skill": 1500.0, "region": "eu"}}); err != nil {
		t.Fatal(err)
	}
	// The duel window reaches 500 after 1 s. Meanwhile a ticket every 10 ms that matches nobody.
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				_, _ = mm.Submit(ctx, Member{ID: fmt.Sprintf("noise-%d", i)}, Request{Queue: "duel",
					Properties: map[string]any{"skill": float64(100000 + i*5000), "region": "eu"}})
			}
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	got, err := mm.Wait(wctx, a.ID, "far-a", Searching)
	cancel()
	close(stop)
	<-fed
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Matched {
		t.Fatalf("the far pair was not matched within 4 s of arrivals (status %s)", got.Status)
	}
	if w := got.Ended.Sub(got.Created); w < time.Second || w > 2500*time.Millisecond {
		t.Errorf("matched after %v, want about 1 s (the widening to 500)", w)
	}
}
