package game_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
)

// Paging walks every match once, oldest first, and survives matches ending in between; a page's
// cost does not grow with the number of matches (no copy and sort of them all).
func TestRegistryPages(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := 0; i < 2000; i++ {
		ids = append(ids, e.create(game.CreateOptions{Game: "relay"}).ID())
	}
	var got []string
	cursor := ""
	for {
		p, next, err := e.reg.Page(game.Filter{}, cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range p {
			got = append(got, i.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(got) != len(ids) || got[0] != ids[0] || got[1999] != ids[1999] {
		t.Fatalf("paged %d of %d matches", len(got), len(ids))
	}
	if _, _, err := e.reg.Page(game.Filter{}, "garbage!", 10); err == nil {
		t.Fatal("a garbage cursor was accepted")
	}
	// End the first page's matches: the next page after its cursor is unaffected.
	first, next, _ := e.reg.Page(game.Filter{}, "", 10)
	for _, i := range first {
		m, _ := e.reg.Get(i.ID)
		m.Stop(0)
		<-m.Done()
	}
	after, _, _ := e.reg.Page(game.Filter{}, next, 10)
	if after[0].ID != ids[10] {
		t.Fatalf("after ending the first page, the second starts at %s, want %s", after[0].ID, ids[10])
	}
	start := time.Now()
	const n = 200
	for i := 0; i < n; i++ {
		e.reg.Page(game.Filter{}, "", 10)
	}
	per := time.Since(start) / n
	t.Logf("a 10-match page of 2,000 matches: %v", per)
	if per > time.Millisecond {
		t.Fatalf("a 10-match page of 2,000 matches took %v", per)
	}
}

func BenchmarkListPage(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(itoa(n), func(b *testing.B) {
			cat := game.NewCatalog()
			cat.Register(game.GameType{Name: "t", New: func() game.Logic { return &game.Base{} }})
			reg := game.NewRegistry(game.RegistryConfig{Catalog: cat, Clock: game.NewManualClock(), Log: slog.New(slog.DiscardHandler)})
			b.Cleanup(func() { _ = reg.Shutdown(context.Background()) })
			for i := 0; i < n; i++ {
				if _, err := reg.Create(game.CreateOptions{Game: "t"}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				reg.Page(game.Filter{}, "", 100)
			}
		})
	}
}

func itoa(n int) string {
	return map[int]string{100: "100", 1000: "1000", 10000: "10000"}[n]
}
