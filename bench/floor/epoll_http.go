//go:build linux

package floor

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The epoll floor's HTTP/1.1: just what the load generator sends (requests with Content-Length
// bodies, keep-alive, the WebSocket upgrade), answered with the same bodies as the gws floor's.

const (
	maxHead = 16 * 1024 // request line and headers
	maxBody = 16 * 1024
	wsGUID  = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

// request is one parsed HTTP request.
type request struct {
	method, path string
	headers      map[string]string // lower-case names
	body         []byte
}

// requests handles every complete request in data and returns the bytes used. After an
// upgrade the rest of data is WebSocket frames.
func (s *EpollServer) requests(c *econn, data []byte) (int, error) {
	used := 0
	for !c.ws && s.conn(c.fd) == c {
		rest := data[used:]
		end := bytes.Index(rest, []byte("\r\n\r\n"))
		if end < 0 {
			if len(rest) > maxHead {
				return used, errProtocol
			}
			return used, nil
		}
		req, err := parseHead(rest[:end])
		if err != nil {
			s.respond(c, 400, "text/plain", []byte(err.Error()+"\n"), true)
			return used, nil
		}
		n := 0
		if cl := req.headers["content-length"]; cl != "" {
			if n, err = strconv.Atoi(cl); err != nil || n < 0 || n > maxBody {
				s.respond(c, 413, "text/plain", []byte("body too large\n"), true)
				return used, nil
			}
		}
		if len(rest) < end+4+n {
			return used, nil // the body is not all here yet
		}
		req.body = rest[end+4 : end+4+n]
		used += end + 4 + n
		s.serve(c, req)
	}
	if c.ws && used < len(data) {
		n, err := s.frames(c, data[used:])
		return used + n, err
	}
	return used, nil
}

func parseHead(b []byte) (*request, error) {
	lines := strings.Split(string(b), "\r\n")
	f := strings.Fields(lines[0])
	if len(f) != 3 || !strings.HasPrefix(f[2], "HTTP/1.") {
		return nil, fmt.Errorf("bad request line %q", lines[0])
	}
	req := &request{method: f[0], path: f[1], headers: map[string]string{}}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("bad header line %q", l)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if old, dup := req.headers[k]; dup {
			v = old + ", " + strings.TrimSpace(v)
		}
		req.headers[k] = strings.TrimSpace(v)
	}
	return req, nil
}

func (s *EpollServer) serve(c *econn, req *request) {
	path, _, _ := strings.Cut(req.path, "?")
	closeAfter := strings.EqualFold(req.headers["connection"], "close")
	switch {
	case req.method == "GET" && path == "/healthz":
		s.respond(c, 200, "text/plain", []byte("ok\n"), closeAfter)
	case req.method == "POST" && path == "/v1/auth/guest":
		s.guests++
		id := "guest-" + strconv.FormatUint(s.guests, 10)
		s.respondJSON(c, 200, map[string]any{"token": "floor-token-" + strconv.FormatUint(s.guests, 10), "player_id": id, "name": id,
			"expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}, closeAfter)
	case req.method == "POST" && path == "/v1/matches":
		var body struct {
			MaxPlayers int `json:"max_players"`
		}
		if err := json.Unmarshal(req.body, &body); err != nil {
			s.respondJSON(c, 400, apiError(1, "BAD_REQUEST", err.Error()), closeAfter)
			return
		}
		s.ids++
		id := "f-" + strconv.FormatUint(s.ids, 10)
		m := s.matchFor(id, body.MaxPlayers, true)
		s.respondJSON(c, 201, map[string]any{"match": m.object(s), "reservation": map[string]any{
			"match_id": id, "address": "ws://" + req.headers["host"] + "/ws", "ticket": "",
			"expires_at": time.Now().Add(30 * time.Second).UTC().Format(time.RFC3339)}}, closeAfter)
	case req.method == "GET" && strings.HasPrefix(path, "/v1/matches/"):
		m := s.matches[strings.TrimPrefix(path, "/v1/matches/")]
		if m == nil {
			s.respondJSON(c, 404, apiError(4, "NOT_FOUND", "no match "+strings.TrimPrefix(path, "/v1/matches/")), closeAfter)
			return
		}
		s.respondJSON(c, 200, m.object(s), closeAfter)
	case req.method == "GET" && path == "/metrics":
		var b strings.Builder
		fmt.Fprintf(&b, "# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
		fmt.Fprintf(&b, "# TYPE floor_connections gauge\nfloor_connections %d\n", s.nconns.Load())
		fmt.Fprintf(&b, "# TYPE floor_matches gauge\nfloor_matches %d\n", len(s.matches))
		s.ticks.write(&b, "tickrelay_tick_duration_seconds")
		s.respond(c, 200, "text/plain; version=0.0.4", []byte(b.String()), closeAfter)
	case req.method == "GET" && path == "/ws":
		s.upgrade(c, req)
	default:
		s.respond(c, 404, "text/plain", []byte("not found\n"), closeAfter)
	}
}

// upgrade answers a WebSocket handshake (RFC 6455 §4.2) offering the tickrelay.v1 subprotocol
// and sends the WELCOME.
func (s *EpollServer) upgrade(c *econn, req *request) {
	key := req.headers["sec-websocket-key"]
	if !strings.EqualFold(req.headers["upgrade"], "websocket") || key == "" || req.headers["sec-websocket-version"] != "13" {
		s.respond(c, 400, "text/plain", []byte("not a WebSocket upgrade\n"), true)
		return
	}
	offered := false
	for _, p := range strings.Split(req.headers["sec-websocket-protocol"], ",") {
		if strings.TrimSpace(p) == Subprotocol {
			offered = true
		}
	}
	if !offered {
		s.respond(c, 400, "text/plain", []byte("offer the subprotocol "+Subprotocol+"\n"), true)
		return
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\nSec-WebSocket-Protocol: " + Subprotocol + "\r\n\r\n"
	s.write(c, []byte(head))
	c.ws = true
	if s.conn(c.fd) == c {
		s.send(c, opBinary, s.welcome)
	}
}

func (s *EpollServer) respondJSON(c *econn, code int, v any, closeAfter bool) {
	b, _ := json.Marshal(v)
	s.respond(c, code, "application/json", append(b, '\n'), closeAfter)
}

func (s *EpollServer) respond(c *econn, code int, ctype string, body []byte, closeAfter bool) {
	conn := ""
	if closeAfter {
		conn = "Connection: close\r\n"
		c.closing = true
	}
	head := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n", code, statusText[code], ctype, len(body), conn)
	s.write(c, append([]byte(head), body...))
}

var statusText = map[int]string{200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}
