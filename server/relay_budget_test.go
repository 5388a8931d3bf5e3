package server

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// rssKiB is this process's resident set (the in-process server's, with the test's).
func rssKiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// A relay match with 1,000 seats where 32 members each send 4 × 15 KB in one tick: before the
// relay budget, every member's frame for that tick held all 1.9 MB, past the 1 MiB outbound
// queue, so everyone was closed as slow (a fast reader included) and the tick cost ~130 MiB.
// Now the match relays at most its budget per tick, each sender its share; every message over
// it is refused with an ERROR to its sender, none is lost silently, and nobody is closed.
func TestRelayTickBudget(t *testing.T) {
	const senders, perSender, size = 32, 4, 15000
	clock := game.NewManualClock()
	ts := startServer(t, func(c *Config) { c.Clock = clock; c.GuestRate = -1 })
	// Created directly: the HTTP API's creation waits for the creator's reservation, which a
	// match on a manual clock answers only at its next tick.
	m, err := ts.srv.reg.Create(game.CreateOptions{Game: "relay", MaxPlayers: 1000})
	if err != nil {
		t.Fatal(err)
	}
	cs := make([]*client, senders)
	for i := range cs {
		c, _ := ts.connect("p" + strconv.Itoa(i))
		cs[i] = c
		c.send(protocol.ClientMsg{Op: protocol.OpJoin, Req: c.nextReq(), Match: m.ID()})
	}
	barrier := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // generous: -race on a loaded 2-core box
		defer cancel()
		if err := m.Inspect(ctx, func(*game.Ctx) {}); err != nil {
			t.Fatal(err)
		}
	}
	// Every JOIN has reached the match (a PING answered after it), then one tick seats them all.
	for _, c := range cs {
		c.send(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 1)})
		c.expect(protocol.OpPong)
	}
	clock.Advance(50 * time.Millisecond)
	barrier()
	for _, c := range cs {
		c.expect(protocol.OpJoined)
	}
	clock.Advance(50 * time.Millisecond) // the join events
	barrier()
	for _, c := range cs {
		c.send(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 2)})
		c.expect(protocol.OpPong)
	}

	payload := protocol.AppendBytes(nil, bytes.Repeat([]byte{'m'}, size))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	rssBefore := rssKiB(t)
	for k := 0; k < perSender; k++ {
		for _, c := range cs {
			c.send(protocol.ClientMsg{Op: protocol.OpMessage, ToAll: true, Payload: payload})
		}
	}
	for _, c := range cs { // every message has reached the match (or been refused)
		c.send(protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 3)})
	}
	refused := make([]int, senders)
	for i, c := range cs {
		for m := c.next(); m.Op != protocol.OpPong; m = c.next() {
			if m.Op == protocol.OpError && m.Code == protocol.ErrCodeRateLimited && m.RefOp == protocol.OpMessage {
				refused[i]++
			}
		}
	}
	clock.Advance(50 * time.Millisecond) // the tick that relays them
	barrier()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	rssAfter := rssKiB(t)

	closed, maxFrame := 0, 0
	got := make([]int, senders)
	for i, c := range cs {
		_ = c.conn.WriteMessage(gws.OpcodeBinary, protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpPing, T: protocol.AppendUint(nil, 4)}))
		for {
			var f []byte
			select {
			case f = <-c.frames:
			case <-c.done:
			case <-time.After(30 * time.Second):
				t.Fatalf("member %d: no PONG within 30 s", i)
			}
			if f == nil {
				closed++
				break
			}
			var m protocol.ServerMsg
			if err := protocol.DecodeServer(f, &m); err != nil {
				t.Fatalf("member %d: undecodable frame: %v", i, err)
			}
			if m.Op == protocol.OpPong {
				break
			}
			if m.Op == protocol.OpDelta && m.Direct != nil {
				maxFrame = max(maxFrame, len(f))
				r := protocol.NewReader(m.Direct)
				n, _ := r.ArrayLen()
				got[i] += n
			}
		}
	}
	totalRefused := 0
	for _, n := range refused {
		totalRefused += n
	}
	accepted := senders*perSender - totalRefused
	allocMiB := float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)
	t.Logf("%d senders × %d × %d B in one tick: accepted %d, refused with an ERROR %d; members closed %d; largest frame %d KiB; "+
		"allocated %.1f MiB during the tick, RSS %+d MiB; slow closes %v",
		senders, perSender, size, accepted, totalRefused, closed, maxFrame>>10, allocMiB, (rssAfter-rssBefore)>>10,
		testutil.ToFloat64(ts.srv.metrics.slowCloses))
	if closed > 0 {
		t.Fatalf("%d members were closed", closed)
	}
	for i := range cs {
		// Everyone gets every accepted message except its own (no echo).
		if want := accepted - (perSender - refused[i]); got[i] != want {
			t.Errorf("member %d got %d messages, want %d (accepted %d, its own %d)", i, got[i], want, accepted, perSender-refused[i])
		}
	}
	budget := ts.srv.cfg.RelayBudget
	if accepted*size > budget || maxFrame > budget+64<<10 {
		t.Errorf("accepted %d bytes, largest frame %d: over the relay budget %d", accepted*size, maxFrame, budget)
	}
	if maxFrame > ts.srv.cfg.OutboundQueue/2 {
		t.Errorf("a frame of %d bytes is not well under the outbound queue (%d)", maxFrame, ts.srv.cfg.OutboundQueue)
	}
	// Memory per tick is bounded by the budget (each recipient's frame holds at most the
	// budget), not by members × payload. What this process allocates in the tick is the
	// server's (each recipient's direct events, grown by appending, and the queued copy of its
	// tail) plus the test clients' (read buffer and copy): a few budgets per recipient.
	if limit := 8 * senders * budget; after.TotalAlloc-before.TotalAlloc > uint64(limit) {
		t.Errorf("the tick allocated %.1f MiB, over %d MiB (8 × members × budget)", allocMiB, limit>>20)
	}
}
