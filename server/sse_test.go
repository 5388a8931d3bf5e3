package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickrelay/tickrelay/protocol"
)

// sseClient reads one stream's events.
type sseClient struct {
	events chan [2]string
	cancel context.CancelFunc
	status int
}

func (ts *testServer) stream(id string) *sseClient {
	ts.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.base+"/v1/matches/"+id+"/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		ts.t.Fatal(err)
	}
	c := &sseClient{events: make(chan [2]string, 1024), cancel: cancel, status: resp.StatusCode}
	go func() {
		defer resp.Body.Close()
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				c.events <- [2]string{ev, strings.TrimPrefix(line, "data: ")}
			}
		}
	}()
	ts.t.Cleanup(cancel)
	return c
}

func (c *sseClient) next(t *testing.T) [2]string {
	t.Helper()
	select {
	case e, ok := <-c.events:
		if !ok {
			t.Fatal("stream closed")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no SSE event within 5 s")
	}
	return [2]string{}
}

// Every stream of a match gets the same events, each encoded once per tick for all of them;
// streams are capped per match and per client IP, and counted in /metrics.
func TestSSEEncodedOnceAndCapped(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxStreamsPerMatch = 20; c.MaxStreamsPerIP = 22 })
	p, tok := ts.connect("p")
	cr := ts.create(tok, map[string]any{"game": "arena"})
	p.join("", cr.Reservation.Ticket)
	const n = 20
	streams := make([]*sseClient, n)
	for i := range streams {
		streams[i] = ts.stream(cr.Match.ID)
		if e := streams[i].next(t); e[0] != "state" {
			t.Fatalf("stream %d: first event %q", i, e[0])
		}
	}
	if over := ts.stream(cr.Match.ID); over.status != http.StatusServiceUnavailable {
		t.Fatalf("stream %d on one match: %d, want 503", n+1, over.status)
	}
	if got := testutil.ToFloat64(ts.srv.metrics.sseStreams); got != n {
		t.Fatalf("tickrelay_sse_streams %v, want %d", got, n)
	}
	before := testutil.ToFloat64(ts.srv.metrics.sseEncoded)
	// 30 inputs, one per tick at most: every stream sees the deltas acking them.
	const inputs = 30
	var lastTick uint32
	for seq := uint32(1); seq <= inputs; seq++ {
		p.send(protocol.ClientMsg{Op: protocol.OpInput, Seq: seq, Payload: []byte{0x92, 1, 0}})
		for {
			if m := p.next(); m.Op == protocol.OpDelta && m.HasAck && m.Ack >= seq {
				lastTick = m.Tick
				break
			}
		}
	}
	var wg sync.WaitGroup
	deltas := make([]int, n)
	for i, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				e := s.next(t)
				if e[0] != "delta" {
					continue
				}
				deltas[i]++
				var d struct {
					Tick uint32 `json:"tick"`
				}
				_ = json.Unmarshal([]byte(e[1]), &d)
				if d.Tick >= lastTick {
					return
				}
			}
		}()
	}
	wg.Wait()
	encoded := testutil.ToFloat64(ts.srv.metrics.sseEncoded) - before
	t.Logf("%d streams received %d deltas each; %v events encoded", n, deltas[0], encoded)
	if encoded > float64(deltas[0]+5) {
		t.Fatalf("%v events encoded for %d streams × %d deltas: not once per tick", encoded, n, deltas[0])
	}
	// The per-IP cap: 2 more streams on another match, then 429.
	other := ts.create(tok, map[string]any{"game": "relay"})
	for i := 0; i < 2; i++ {
		ts.stream(other.Match.ID).next(t)
	}
	if over := ts.stream(other.Match.ID); over.status != http.StatusTooManyRequests {
		t.Fatalf("stream over the per-IP cap: %d, want 429", over.status)
	}
	if a, b := testutil.ToFloat64(ts.srv.metrics.limited.WithLabelValues("streams_match")), testutil.ToFloat64(ts.srv.metrics.limited.WithLabelValues("streams_ip")); a != 1 || b != 1 {
		t.Fatalf("refusals: streams_match %v streams_ip %v", a, b)
	}
	for _, s := range streams {
		s.cancel()
	}
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(ts.srv.metrics.sseStreams) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("tickrelay_sse_streams %v after closing 20 of 22", testutil.ToFloat64(ts.srv.metrics.sseStreams))
		}
		time.Sleep(10 * time.Millisecond) // the handlers see the closed connections
	}
}
