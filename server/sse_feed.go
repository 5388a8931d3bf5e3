package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// SSE streams (GET /v1/matches/{id}/stream) share one feed per match: the feed watches the
// match once, as one spectator, and turns each frame into its JSON event ONCE for all the
// match's streams (300 streams re-encoding every delta cost 21% of a core for one 20 Hz match).
// A new stream asks the match for a fresh snapshot through the feed (a second Watch of the
// same sink), which the match answers at the end of a tick, after that tick's delta: the new
// stream starts with that "state" and then gets the deltas that follow, like the others.
//
// Goroutines: the match goroutine calls the feed's Deliver (non-blocking: a full queue ends the
// feed); one feed goroutine decodes, encodes and hands the event bytes to each stream's bounded
// queue (a stream that falls behind is ended "slow", the others do not notice); each stream's
// HTTP handler writes its queue. Lock order: sseHub.mu before sseFeed.mu.

// sseQueue is the events a stream may fall behind by before it is ended as slow.
const sseQueue = 256

type sseHub struct {
	srv   *Server
	mu    sync.Mutex
	feeds map[string]*sseFeed
	perIP map[string]int
}

type sseFeed struct {
	hub    *sseHub
	id     string
	m      MatchHandle
	frames chan []byte   // from the match; bounded
	gone   chan struct{} // closed when the feed cannot keep up with the match
	quit   chan struct{} // closed when the last stream left
	goneMu sync.Once

	mu      sync.Mutex
	subs    map[*sseStream]bool // receiving deltas
	pending []*sseStream        // waiting for their first "state"
}

type sseStream struct {
	events chan []byte // encoded SSE events
	ended  chan struct{}
	once   sync.Once
	slow   atomic.Bool
	ip     string
}

func (s *sseStream) end() { s.once.Do(func() { close(s.ended) }) }

// push queues an event for the stream, or ends it as slow when its queue is full.
func (s *sseStream) push(ev []byte) {
	select {
	case s.events <- ev:
	default:
		s.slow.Store(true)
		s.end()
	}
}

// Deliver implements game.Sink for the feed's single watch.
func (f *sseFeed) Deliver(shared, tail []byte) {
	fr := append(append(make([]byte, 0, len(shared)+len(tail)), shared...), tail...)
	select {
	case f.frames <- fr:
	default:
		f.goneMu.Do(func() { close(f.gone) })
	}
}

func (f *sseFeed) Detached(string, uint32, protocol.LeaveReason) {}

var errStreamLimit = errors.New("stream limit")

// subscribe adds a stream from ip to match m's feed (starting the feed if it is the first).
func (h *sseHub) subscribe(ctx context.Context, m MatchHandle, ip string) (*sseFeed, *sseStream, error) {
	cfg := h.srv.cfg
	h.mu.Lock()
	if cfg.MaxStreamsPerIP >= 0 && h.perIP[ip] >= cfg.MaxStreamsPerIP {
		h.mu.Unlock()
		h.srv.metrics.limited.WithLabelValues("streams_ip").Inc()
		return nil, nil, fmt.Errorf("%w: %w: %d streams from this address", ErrRateLimited, errStreamLimit, cfg.MaxStreamsPerIP)
	}
	f := h.feeds[m.ID()]
	if f != nil {
		f.mu.Lock()
		n := len(f.subs) + len(f.pending)
		f.mu.Unlock()
		if cfg.MaxStreamsPerMatch >= 0 && n >= cfg.MaxStreamsPerMatch {
			h.mu.Unlock()
			h.srv.metrics.limited.WithLabelValues("streams_match").Inc()
			return nil, nil, fmt.Errorf("%w: %w: %d streams on this match", ErrUnavailable, errStreamLimit, cfg.MaxStreamsPerMatch)
		}
	}
	fresh := f == nil
	if fresh {
		f = &sseFeed{hub: h, id: m.ID(), m: m, frames: make(chan []byte, sseQueue), gone: make(chan struct{}), quit: make(chan struct{}),
			subs: map[*sseStream]bool{}}
		h.feeds[m.ID()] = f
	}
	s := &sseStream{events: make(chan []byte, sseQueue), ended: make(chan struct{}), ip: ip}
	h.perIP[ip]++
	f.mu.Lock()
	ask := len(f.pending) == 0 // else the snapshot already asked for serves this stream too
	f.pending = append(f.pending, s)
	f.mu.Unlock()
	h.mu.Unlock()
	h.srv.metrics.sseStreams.Inc()
	if fresh && !h.srv.track(f.run) {
		h.unsubscribe(f, s)
		return nil, nil, errDraining
	}
	if ask {
		if err := m.Watch(ctx, f, 0); err != nil {
			h.unsubscribe(f, s)
			return nil, nil, err
		}
	}
	return f, s, nil
}

// unsubscribe removes a stream; the last one stops the feed (and its watch).
func (h *sseHub) unsubscribe(f *sseFeed, s *sseStream) {
	h.mu.Lock()
	if h.perIP[s.ip]--; h.perIP[s.ip] <= 0 {
		delete(h.perIP, s.ip)
	}
	f.mu.Lock()
	delete(f.subs, s)
	for i, p := range f.pending {
		if p == s {
			f.pending = append(f.pending[:i], f.pending[i+1:]...)
			break
		}
	}
	last := len(f.subs)+len(f.pending) == 0
	f.mu.Unlock()
	if last && h.feeds[f.id] == f {
		delete(h.feeds, f.id)
		close(f.quit)
	}
	h.mu.Unlock()
	h.srv.metrics.sseStreams.Dec()
	if last {
		_ = f.m.Unwatch(context.Background(), f)
	}
}

// run is the feed goroutine: one decode and one JSON encoding per frame, for every stream.
func (f *sseFeed) run() {
	var schema []string
	endAll := func(ev []byte) {
		f.hub.mu.Lock()
		if f.hub.feeds[f.id] == f {
			delete(f.hub.feeds, f.id) // later streams start a new feed
		}
		f.hub.mu.Unlock()
		f.mu.Lock()
		for s := range f.subs {
			s.push(ev)
			s.end()
		}
		for _, s := range f.pending {
			s.push(ev)
			s.end()
		}
		f.mu.Unlock()
	}
	for {
		select {
		case <-f.quit:
			return
		case <-f.gone:
			endAll(sseEvent("end", sseEnd(0, nil, "this stream fell too far behind and was closed; the match goes on")))
			return
		case fr := <-f.frames:
			var msg protocol.ServerMsg
			if err := protocol.DecodeServer(fr, &msg); err != nil {
				f.hub.srv.log.Error("stream: undecodable frame", "match", f.id, "err", err)
				endAll(sseEvent("end", sseEnd(0, nil, "internal error")))
				return
			}
			switch msg.Op {
			case protocol.OpJoined:
				schema = decodeSchema(msg.Schema)
				ev := sseEvent("state", map[string]any{"match": msg.Match, "game": msg.Game, "epoch": msg.Epoch, "tick": msg.Tick,
					"tick_rate": msg.TickRate, "entities": plainEntities(msg.State, schema), "members": plain(msg.Members)})
				f.hub.srv.metrics.sseEncoded.Inc()
				f.mu.Lock()
				for _, s := range f.pending {
					s.push(ev)
					f.subs[s] = true
				}
				f.pending = nil
				f.mu.Unlock()
			case protocol.OpDelta:
				ev := sseEvent("delta", deltaJSON(&msg, schema))
				f.hub.srv.metrics.sseEncoded.Inc()
				f.mu.Lock()
				for s := range f.subs {
					s.push(ev)
				}
				f.mu.Unlock()
			case protocol.OpEnd:
				endAll(sseEvent("end", sseEnd(msg.Reason, msg.Result, "the match ended")))
				return
			}
		}
	}
}

func deltaJSON(msg *protocol.ServerMsg, schema []string) map[string]any {
	d := map[string]any{"epoch": msg.Epoch, "tick": msg.Tick, "since": msg.Since}
	if msg.Changes != nil {
		var parts []any
		if v, err := protocol.MsgpackToJSON(msg.Changes); err == nil {
			parts, _ = v.([]any)
		}
		if len(parts) == 3 {
			d["added"] = plainEntitiesValue(parts[0], schema)
			d["updated"] = plainEntitiesValue(parts[1], schema)
			d["removed"] = plainValue(parts[2])
		}
	}
	if msg.Events != nil {
		d["events"] = plain(msg.Events)
	}
	return d
}

// sseEvent encodes one Server-Sent Event.
func sseEvent(event string, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{}`)
	}
	return fmt.Appendf(nil, "event: %s\ndata: %s\n\n", event, b)
}

// handleStream is GET /v1/matches/{id}/stream: Server-Sent Events for spectators and dashboards
// that cannot use WebSockets: "state" (the snapshot, first), "delta" per delta, "end", plus a
// comment heartbeat every 15 s. It ends when the match ends, the client goes away, or the
// client falls 256 events behind ("end" with reason "slow").
func (srv *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	m, err := srv.locate(r.Context(), r.PathValue("id"))
	if err != nil {
		srv.fail(w, err)
		return
	}
	info, err := m.Info(r.Context())
	if err != nil {
		srv.fail(w, err)
		return
	}
	if info.Private {
		writeError(w, protocol.ErrCodeForbidden, "private matches cannot be streamed")
		return
	}
	f, s, err := srv.sse.subscribe(r.Context(), m, ipKey(srv.clientIP(r)))
	if err != nil {
		srv.fail(w, err)
		return
	}
	defer srv.sse.unsubscribe(f, s)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	write := func(ev []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := w.Write(ev); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-srv.drain:
			write(sseEvent("end", sseEnd(protocol.EndStopped, nil, "server shutting down")))
			return
		case ev := <-s.events:
			if !write(ev) {
				return
			}
		case <-s.ended:
			for drained := false; !drained; { // what was queued before the end ("end" itself)
				select {
				case ev := <-s.events:
					if !write(ev) {
						return
					}
				default:
					drained = true
				}
			}
			if s.slow.Load() {
				write(sseEvent("end", sseEnd(0, nil, "this stream fell too far behind and was closed; the match goes on")))
			}
			return
		case <-heartbeat.C:
			_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

var _ game.Sink = (*sseFeed)(nil)
