package game_test

import (
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
)

// Both clocks follow Clock's rule: the first tick after phase+d, then every d.
func TestClocksFirstTickAfterPhasePlusPeriod(t *testing.T) {
	const d, phase = 40 * time.Millisecond, 60 * time.Millisecond
	t.Run("real", func(t *testing.T) {
		start := time.Now()
		tk := game.RealClock{}.NewTicker(d, phase)
		defer tk.Stop()
		at := <-tk.C()
		if got := at.Sub(start); got < phase+d {
			t.Fatalf("first tick after %v, want ≥ %v", got, phase+d)
		}
		tk.(interface{ Ticked() }).Ticked()
		next := <-tk.C()
		// The lower bound is the rule (ticks are not bunched); the upper one only says it goes
		// on ticking: a loaded 2-core box can stall a goroutine for 100 ms and more.
		if got := next.Sub(at); got < d/2 || got > 2*time.Second {
			t.Fatalf("second tick %v after the first, want about %v", got, d)
		}
	})
	t.Run("manual", func(t *testing.T) {
		c := game.NewManualClock()
		start := c.Now()
		tk := c.NewTicker(d, phase)
		defer tk.Stop()
		got := make(chan time.Time, 2)
		go func() {
			got <- <-tk.C()
			got <- <-tk.C()
		}()
		c.Advance(phase + d - time.Millisecond)
		select {
		case at := <-got:
			t.Fatalf("tick at %v, before phase+d", at.Sub(start))
		default:
		}
		c.Advance(d + time.Millisecond)
		if at := <-got; at.Sub(start) != phase+d {
			t.Fatalf("first tick at %v, want %v", at.Sub(start), phase+d)
		}
		if at := <-got; at.Sub(start) != phase+2*d {
			t.Fatalf("second tick at %v, want %v", at.Sub(start), phase+2*d)
		}
	})
}
