package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// handleStream is GET /v1/matches/{id}/stream: Server-Sent Events for spectators and dashboards
// that cannot use WebSockets. The stream watches the match like a spectator (pid 0) and turns
// its frames into JSON: "state" (the snapshot, first), "delta" per delta, "end", plus a comment
// heartbeat every 15 s. It ends when the match ends or the client goes away.
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
	sink := &sseSink{frames: make(chan []byte, 256), gone: make(chan struct{})}
	if err := m.Watch(r.Context(), sink, 0); err != nil {
		srv.fail(w, err)
		return
	}
	defer func() { _ = m.Unwatch(context.Background(), sink) }()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()

	var schema []string
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	write := func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-srv.drain:
			write("end", sseEnd(protocol.EndStopped, nil, "server shutting down"))
			return
		case <-sink.gone:
			write("end", sseEnd(0, nil, "this stream fell too far behind and was closed; the match goes on"))
			return
		case <-heartbeat.C:
			_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case f := <-sink.frames:
			var msg protocol.ServerMsg
			if err := protocol.DecodeServer(f, &msg); err != nil {
				srv.log.Error("stream: undecodable frame", "err", err)
				return
			}
			switch msg.Op {
			case protocol.OpJoined:
				schema = decodeSchema(msg.Schema)
				ok := write("state", map[string]any{"match": msg.Match, "game": msg.Game, "epoch": msg.Epoch, "tick": msg.Tick,
					"tick_rate": msg.TickRate, "entities": plainEntities(msg.State, schema), "members": plain(msg.Members)})
				if !ok {
					return
				}
			case protocol.OpDelta:
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
				if !write("delta", d) {
					return
				}
			case protocol.OpEnd:
				write("end", sseEnd(msg.Reason, msg.Result, "the match ended"))
				return
			}
		}
	}
}

// sseSink is a spectator sink with a bounded queue: a stream that falls 256 frames behind is
// ended (never blocks the match).
type sseSink struct {
	frames chan []byte
	gone   chan struct{}
	once   sync.Once
}

func (s *sseSink) Deliver(shared, tail []byte) {
	f := shared
	if len(tail) > 0 {
		f = append(append(make([]byte, 0, len(shared)+len(tail)), shared...), tail...)
	}
	select {
	case s.frames <- f:
	default:
		s.once.Do(func() { close(s.gone) })
	}
}

func (s *sseSink) Detached(string, uint32, protocol.LeaveReason) {}

func decodeSchema(b []byte) []string {
	var names []string
	if len(b) > 0 {
		_ = protocol.Unmarshal(b, &names)
	}
	return names
}

// plain converts msgpack to everyday JSON: maps become objects with string keys, float32/64
// plain numbers, bin a hex string.
func plain(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	v, err := protocol.MsgpackToJSON(b)
	if err != nil {
		return nil
	}
	return plainValue(v)
}

func plainValue(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainValue(e)
		}
		return out
	case map[string]any:
		if len(x) == 1 {
			for k, e := range x {
				switch k {
				case "f32", "f64", "bin":
					return e
				case "map":
					out := map[string]any{}
					pairs, _ := e.([]any)
					for _, p := range pairs {
						kv, _ := p.([]any)
						if len(kv) == 2 {
							out[keyString(kv[0])] = plainValue(kv[1])
						}
					}
					return out
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plainValue(e)
		}
		return out
	}
	return v
}

func keyString(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(k)
}

// plainEntities turns map{entity: map{key: value}} into {"id": {"name": value}} using the schema.
func plainEntities(b []byte, schema []string) any {
	if len(b) == 0 {
		return map[string]any{}
	}
	v, err := protocol.MsgpackToJSON(b)
	if err != nil {
		return nil
	}
	return plainEntitiesValue(v, schema)
}

func plainEntitiesValue(v any, schema []string) any {
	ents, ok := plainValue(v).(map[string]any)
	if !ok {
		return nil
	}
	for id, fields := range ents {
		fm, ok := fields.(map[string]any)
		if !ok {
			continue
		}
		named := make(map[string]any, len(fm))
		for k, val := range fm {
			if i, err := strconv.Atoi(k); err == nil && i >= 0 && i < len(schema) {
				k = schema[i]
			}
			named[k] = val
		}
		ents[id] = named
	}
	return ents
}

// sseEnd is the one shape of an "end" event: reason from the END table (0 when only this stream
// ended, not the match), its name, the game's result as JSON (null when none), and a message.
func sseEnd(reason protocol.EndReason, result []byte, message string) map[string]any {
	name := ""
	if reason != 0 {
		name = reason.String()
	}
	return map[string]any{"reason": int(reason), "reason_name": name, "result": plain(result), "message": message}
}
