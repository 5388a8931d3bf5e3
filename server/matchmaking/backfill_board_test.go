package matchmaking

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickrelay/tickrelay/server/cluster"
	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// The open-match board's rules, on a standalone Redis and on a real 3-master Redis Cluster
// (the board is in its queue's slot): only marked matches are offered; an owner's record is
// not replaced or removed by another node with an older epoch while it lives; a match that
// moved keeps its mark (its new owner writes it again), one that ended loses it; records expire
// a TTL after their last write; at most the limit is read, the rest counted.
func TestOpenBoard(t *testing.T) {
	t.Run("standalone", func(t *testing.T) {
		rs := redistest.Start(t)
		testOpenBoard(t, redis.NewClient(&redis.Options{Addr: rs.Addr}))
	})
	t.Run("cluster", func(t *testing.T) {
		testOpenBoard(t, clusterClient(redistest.StartCluster(t, 3)))
	})
}

func testOpenBoard(t *testing.T, rdb redis.UniversalClient) {
	s, err := NewRedisStore(rdb, "test:mm:", 1000, time.Minute, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(); _ = rdb.Close() })
	if cluster.Slot(s.openKey("pair")) != cluster.Slot(s.qkey("pair")) {
		t.Fatal("the board is not in its queue's slot")
	}
	ctx := context.Background()
	const ttl = time.Minute
	list := func() map[string]OpenRecord {
		t.Helper()
		recs, live, _, err := s.ListOpen(ctx, "pair", 100)
		if err != nil {
			t.Fatal(err)
		}
		if live != len(recs) {
			t.Fatalf("%d live, %d read", live, len(recs))
		}
		out := map[string]OpenRecord{}
		for _, r := range recs {
			out[r.ID] = r
		}
		return out
	}
	put := func(node string, ttl time.Duration, cs ...openChange) {
		t.Helper()
		if err := s.PutOpen(ctx, "pair", node, ttl, cs); err != nil {
			t.Fatal(err)
		}
	}
	rec := func(id string, epoch uint32, free int) OpenRecord {
		return OpenRecord{ID: id, Epoch: epoch, Game: "arena", Skill: 1500, Free: free, Max: 4}
	}

	// Unmarked: never on the board, whoever writes it.
	put("a", ttl, openChange{Rec: rec("fake", 1, 3)})
	if _, ok := list()["fake"]; ok {
		t.Fatal("an unmarked match is on the board")
	}
	// Marked with its first record (the placer's); the owner's writes replace it.
	first := rec("m1", 0, 2)
	first.Node = "a"
	if err := s.MarkMade(ctx, "pair", first, ttl); err != nil {
		t.Fatal(err)
	}
	if r, ok := list()["m1"]; !ok || r.Free != 2 || r.Node != "a" || r.Exp-r.At != ttl.Milliseconds() {
		t.Fatalf("the placer's first record: %+v %v", r, ok)
	}
	put("a", ttl, openChange{Rec: rec("m1", 1, 1)})
	if r := list()["m1"]; r.Free != 1 || r.Epoch != 1 {
		t.Fatalf("the owner's record: %+v", r)
	}
	// Restored on b with epoch 2: b's record stands against a's late writes and deletes.
	put("b", ttl, openChange{Rec: rec("m1", 2, 3)})
	put("a", ttl, openChange{Rec: rec("m1", 1, 1)}, openChange{Delete: true, Ended: true, Rec: rec("m1", 1, 0)})
	if r, ok := list()["m1"]; !ok || r.Node != "b" || r.Epoch != 2 || r.Free != 3 {
		t.Fatalf("after the old owner's late writes: %+v %v", r, ok)
	}
	// Moved away from b (END MOVED): the record goes, the mark stays for the next owner.
	put("b", ttl, openChange{Delete: true, Rec: rec("m1", 2, 0)})
	if _, ok := list()["m1"]; ok {
		t.Fatal("a moved match's record stayed")
	}
	put("c", ttl, openChange{Rec: rec("m1", 3, 2)})
	if r, ok := list()["m1"]; !ok || r.Node != "c" {
		t.Fatalf("the new owner could not write a moved match again: %+v %v", r, ok)
	}
	// Ended on c: record and mark go; no write brings it back.
	put("c", ttl, openChange{Delete: true, Ended: true, Rec: rec("m1", 3, 0)})
	put("c", ttl, openChange{Rec: rec("m1", 3, 2)})
	if _, ok := list()["m1"]; ok {
		t.Fatal("an ended match came back")
	}
	// Expiry: a record written with a short TTL is gone once it passed (Redis' clock).
	short := rec("m2", 0, 2)
	short.Node = "d"
	if err := s.MarkMade(ctx, "pair", short, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, ok := list()["m2"]; !ok {
		t.Fatal("m2 missing before its expiry")
	}
	waitFor(t, 3*time.Second, "m2 to expire", func() bool { _, ok := list()["m2"]; return !ok })
	// The limit: 3 marked matches, 2 read, 3 live.
	for _, id := range []string{"x1", "x2", "x3"} {
		r := rec(id, 0, 1)
		r.Node = "a"
		if err := s.MarkMade(ctx, "pair", r, ttl); err != nil {
			t.Fatal(err)
		}
	}
	recs, live, _, err := s.ListOpen(ctx, "pair", 2)
	if err != nil || len(recs) != 2 || live != 3 {
		t.Fatalf("limit 2 of 3: read %d, live %d, %v", len(recs), live, err)
	}
}
