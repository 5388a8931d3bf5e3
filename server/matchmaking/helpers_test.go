package matchmaking

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/servertest"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-mm-test")

type testServer struct {
	t    *testing.T
	srv  *server.Server
	mm   *Matchmaker
	base string
	ws   string
}

func startServer(t *testing.T, mc Config, mutate ...func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.Config{Secret: testSecret, Log: slog.New(slog.DiscardHandler), ShutdownGrace: 2 * time.Second}
	for _, f := range mutate {
		f(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mm, err := Attach(srv, mc, AttachOptions{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve(ln)
	ts := &testServer{t: t, srv: srv, mm: mm, base: "http://" + ln.Addr().String(), ws: "ws://" + ln.Addr().String() + "/ws"}
	t.Cleanup(func() {
		mm.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return ts
}

// do sends a JSON request (body: a value, or []byte as is) and decodes the answer into out.
func (ts *testServer) do(method, path, token string, body any, out any) int {
	ts.t.Helper()
	return servertest.DoJSON(ts.t, method, ts.base+path, token, body, out)
}

type player struct {
	ts    *testServer
	token string
	id    string
	conn  *gws.Conn
	msgs  chan protocol.ServerMsg
	done  chan struct{}
	code  chan uint16
}

func (ts *testServer) guest(name string) *player {
	ts.t.Helper()
	var g struct {
		Token    string `json:"token"`
		PlayerID string `json:"player_id"`
	}
	if st := ts.do("POST", "/v1/auth/guest", "", map[string]string{"name": name}, &g); st != 200 {
		ts.t.Fatalf("guest: %d", st)
	}
	return &player{ts: ts, token: g.Token, id: g.PlayerID}
}

type wsHandler struct {
	gws.BuiltinEventHandler
	p *player
}

func (h *wsHandler) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	var sm protocol.ServerMsg
	if err := protocol.DecodeServer(append([]byte(nil), m.Bytes()...), &sm); err != nil {
		h.p.ts.t.Errorf("decode: %v", err)
		return
	}
	select {
	case h.p.msgs <- sm:
	default:
		h.p.ts.t.Errorf("client buffer full")
	}
}

func (h *wsHandler) OnClose(_ *gws.Conn, err error) {
	var c uint16
	if ce, ok := err.(*gws.CloseError); ok {
		c = ce.Code
	}
	h.p.code <- c
}

// connect opens the player's WebSocket and reads the WELCOME.
func (p *player) connect() *player {
	t := p.ts.t
	t.Helper()
	p.msgs, p.done, p.code = make(chan protocol.ServerMsg, 1024), make(chan struct{}), make(chan uint16, 1)
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", protocol.Subprotocol)
	conn, _, err := gws.NewClient(&wsHandler{p: p}, &gws.ClientOption{Addr: p.ts.ws + "?token=" + p.token, RequestHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	p.conn = conn
	go func() {
		defer close(p.done)
		conn.ReadLoop()
	}()
	t.Cleanup(func() {
		_ = conn.WriteClose(1000, nil)
		<-p.done
	})
	p.expect(protocol.OpWelcome, 5*time.Second)
	return p
}

func (p *player) expect(op protocol.Op, within time.Duration) protocol.ServerMsg {
	p.ts.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-p.msgs:
			if m.Op == op {
				return m
			}
		case <-deadline:
			p.ts.t.Fatalf("no op %d within %v", op, within)
		}
	}
}

// event waits for an EVENT TICKET whose status is status.
func (p *player) event(status string, within time.Duration) map[string]any {
	p.ts.t.Helper()
	return p.eventWhere(func(v map[string]any) bool { return v["status"] == status }, within)
}

// eventWhere waits for an EVENT TICKET that pred accepts.
func (p *player) eventWhere(pred func(map[string]any) bool, within time.Duration) map[string]any {
	p.ts.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-p.msgs:
			if m.Op != protocol.OpEvent || m.Kind != protocol.EventTicket {
				continue
			}
			var v map[string]any
			if err := protocol.Unmarshal(m.Data, &v); err != nil {
				p.ts.t.Fatal(err)
			}
			if pred(v) {
				return v
			}
		case <-deadline:
			p.ts.t.Fatalf("no such ticket event within %v", within)
		}
	}
}

// join JOINs with a seat reservation and returns the JOINED (or fails on an ERROR).
func (p *player) join(matchID, ticket string) protocol.ServerMsg {
	p.ts.t.Helper()
	b := protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpJoin, Req: 7, Match: matchID, Ticket: ticket})
	if err := p.conn.WriteMessage(gws.OpcodeBinary, b); err != nil {
		p.ts.t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-p.msgs:
			switch m.Op {
			case protocol.OpJoined:
				return m
			case protocol.OpError:
				p.ts.t.Fatalf("JOIN refused: %d %s", m.Code, m.Message)
			}
		case <-deadline:
			p.ts.t.Fatal("no JOINED within 5s")
		}
	}
}

type ticketJSON struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Queue       string `json:"queue"`
	Version     int    `json:"version"`
	MatchID     string `json:"match_id"`
	Reason      string `json:"reason"`
	WaitedMS    int64  `json:"waited_ms"`
	Party       string `json:"party"`
	Players     []string
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	Reservation *struct {
		MatchID string `json:"match_id"`
		Address string `json:"address"`
		Ticket  string `json:"ticket"`
		Seat    int    `json:"seat"`
		Team    int    `json:"team"`
	} `json:"reservation"`
	Window map[string]any `json:"window"`
	Error  *struct {
		Code int    `json:"code"`
		Name string `json:"name"`
	} `json:"error"`
}

func (p *player) ticket(queue string, props map[string]any) (ticketJSON, int) {
	p.ts.t.Helper()
	var out ticketJSON
	st := p.ts.do("POST", "/v1/matchmaking/tickets", p.token, map[string]any{"queue": queue, "properties": props}, &out)
	return out, st
}

func (p *player) get(id, query string) (ticketJSON, int) {
	p.ts.t.Helper()
	var out ticketJSON
	st := p.ts.do("GET", "/v1/matchmaking/tickets/"+id+query, p.token, nil, &out)
	return out, st
}
