package game

import (
	"fmt"
	"testing"
	"time"
)

func TestEndedLogKeepsForAWhileAndAtMostMax(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := newEndedLog(time.Minute, 3)
	for i := range 5 {
		l.add(EndedMatch{Info: Info{ID: fmt.Sprint("m", i)}, EndedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	for i := range 5 {
		_, ok := l.get(fmt.Sprint("m", i), t0.Add(10*time.Second))
		if want := i >= 2; ok != want {
			t.Fatalf("m%d kept=%v, want %v (max 3, oldest first)", i, ok, want)
		}
	}
	if _, ok := l.get("m4", t0.Add(4*time.Second+time.Minute)); ok {
		t.Fatal("m4 kept past its minute")
	}
	l.add(EndedMatch{Info: Info{ID: "late"}, EndedAt: t0.Add(2 * time.Minute)})
	if len(l.byID) != 1 || len(l.order) != 1 {
		t.Fatalf("expired entries not trimmed: %d kept, %d ordered", len(l.byID), len(l.order))
	}
	off := newEndedLog(-1, 10)
	off.add(EndedMatch{Info: Info{ID: "x"}, EndedAt: t0})
	if _, ok := off.get("x", t0); ok {
		t.Fatal("kept with a negative retention")
	}
}
