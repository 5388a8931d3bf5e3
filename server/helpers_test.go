package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"go.uber.org/goleak"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

// testServer is a real server on 127.0.0.1:0.
type testServer struct {
	t    testing.TB
	srv  *Server
	base string // http://127.0.0.1:port
	ws   string // ws://127.0.0.1:port/ws
}

func startServer(t testing.TB, mutate ...func(*Config)) *testServer {
	t.Helper()
	cfg := Config{Secret: testSecret, Log: slog.New(slog.DiscardHandler), APIKey: "op-key", ShutdownGrace: 2 * time.Second}
	for _, f := range mutate {
		f(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve(ln)
	ts := &testServer{t: t, srv: srv, base: "http://" + ln.Addr().String(), ws: "ws://" + ln.Addr().String() + "/ws"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return ts
}

// do sends a JSON request and decodes the JSON answer into out (if non-nil); it returns the status.
func (ts *testServer) do(method, path, token string, body any, out any) int {
	ts.t.Helper()
	return servertest.DoJSON(ts.t, method, ts.base+path, token, body, out)
}

func (ts *testServer) guest(name string) (token, player string) {
	ts.t.Helper()
	return servertest.Guest(ts.t, ts.base, name)
}

type created struct {
	Match       MatchInfo   `json:"match"`
	Reservation Reservation `json:"reservation"`
}

func (ts *testServer) create(token string, body map[string]any) created {
	ts.t.Helper()
	var c created
	if st := ts.do("POST", "/v1/matches", token, body, &c); st != 201 {
		ts.t.Fatalf("create: %d", st)
	}
	return c
}

// client is a real gws WebSocket client that collects frames.
type client struct {
	t      testing.TB
	conn   *gws.Conn
	frames chan []byte
	done   chan struct{}
	block  chan struct{} // when non-nil, OnMessage waits on it (a client that stops reading)
	pongs  chan []byte   // WebSocket pongs received (dropped when full)

	mu        sync.Mutex
	closeCode uint16
	req       uint32
	welcome   protocol.ServerMsg
}

type clientHandler struct {
	gws.BuiltinEventHandler
	c *client
}

func (h *clientHandler) OnMessage(conn *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	h.c.mu.Lock()
	block := h.c.block
	h.c.mu.Unlock()
	if block != nil {
		<-block
	}
	select {
	case h.c.frames <- append([]byte(nil), msg.Bytes()...):
	default:
		h.c.t.Errorf("test client buffer full")
	}
}

func (h *clientHandler) OnPong(conn *gws.Conn, payload []byte) {
	select {
	case h.c.pongs <- append([]byte(nil), payload...):
	default:
	}
}

func (h *clientHandler) OnClose(conn *gws.Conn, err error) {
	h.c.mu.Lock()
	if ce, ok := err.(*gws.CloseError); ok {
		h.c.closeCode = ce.Code
	}
	h.c.mu.Unlock()
}

// dial opens a WebSocket; header may add Origin etc. It returns the HTTP status on refusal.
func (ts *testServer) dial(token string, header http.Header) (*client, int, error) {
	return ts.dialWith(token, header, nil)
}

// dialWith is dial with the client's options adjusted by opt (compression, TLS, address).
func (ts *testServer) dialWith(token string, header http.Header, opt func(*gws.ClientOption)) (*client, int, error) {
	if header == nil {
		header = http.Header{}
	}
	if header.Get("Sec-WebSocket-Protocol") == "" {
		header.Set("Sec-WebSocket-Protocol", protocol.Subprotocol)
	}
	addr := ts.ws
	if token != "" {
		addr += "?token=" + token
	}
	c := &client{t: ts.t, frames: make(chan []byte, 4096), done: make(chan struct{}), pongs: make(chan []byte, 16)}
	o := &gws.ClientOption{Addr: addr, RequestHeader: header,
		ReadMaxPayloadSize: 1 << 20, PermessageDeflate: gws.PermessageDeflate{Enabled: false}}
	if opt != nil {
		opt(o)
	}
	conn, resp, err := gws.NewClient(&clientHandler{c: c}, o)
	if err != nil {
		st := 0
		if resp != nil {
			st = resp.StatusCode
		}
		return nil, st, err
	}
	c.conn = conn
	go func() {
		defer close(c.done)
		conn.ReadLoop()
	}()
	ts.t.Cleanup(func() {
		c.unblock()
		_ = conn.WriteClose(1000, nil)
		<-c.done
	})
	return c, 101, nil
}

// connect dials with a fresh guest and reads the WELCOME.
func (ts *testServer) connect(name string) (*client, string) {
	ts.t.Helper()
	tok, _ := ts.guest(name)
	c, st, err := ts.dial(tok, nil)
	if err != nil {
		ts.t.Fatalf("dial: %d %v", st, err)
	}
	c.welcome = c.expect(protocol.OpWelcome)
	return c, tok
}

func (c *client) unblock() {
	c.mu.Lock()
	if c.block != nil {
		close(c.block)
		c.block = nil
	}
	c.mu.Unlock()
}

func (c *client) send(m protocol.ClientMsg) {
	c.t.Helper()
	if err := c.conn.WriteMessage(gws.OpcodeBinary, protocol.AppendClient(nil, &m)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *client) nextReq() uint32 {
	c.req++
	return c.req
}

// next returns the next frame, decoded (fails the test after 5 s). Frames that arrived before
// the connection closed are returned before the close is reported.
func (c *client) next() protocol.ServerMsg {
	c.t.Helper()
	decode := func(f []byte) protocol.ServerMsg {
		var m protocol.ServerMsg
		if err := protocol.DecodeServer(f, &m); err != nil {
			c.t.Fatalf("server sent an undecodable frame %x: %v", f, err)
		}
		return m
	}
	select {
	case f := <-c.frames:
		return decode(f)
	default:
	}
	select {
	case f := <-c.frames:
		return decode(f)
	case <-c.done:
		select {
		case f := <-c.frames:
			return decode(f)
		default:
		}
		c.t.Fatalf("connection closed (code %d) while waiting for a frame", c.code())
	case <-time.After(5 * time.Second):
		// Show where everything stands: a frame that never comes is usually a stuck goroutine.
		_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		c.t.Fatal("no frame within 5 s")
	}
	return protocol.ServerMsg{}
}

// expect returns the next frame of op, skipping DELTAs and EVENTs on the way.
func (c *client) expect(op protocol.Op) protocol.ServerMsg {
	c.t.Helper()
	for {
		m := c.next()
		if m.Op == op {
			return m
		}
		if m.Op != protocol.OpDelta && m.Op != protocol.OpEvent {
			c.t.Fatalf("want op %d, got %+v", op, m)
		}
	}
}

// closedWith waits for the connection to close and returns the close code (0 if none seen).
func (c *client) closedWith(within time.Duration) uint16 {
	c.t.Helper()
	select {
	case <-c.done:
		return c.code()
	case <-time.After(within):
		c.t.Fatalf("connection still open after %v", within)
	}
	return 0
}

func (c *client) code() uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode
}

// join joins a match by id and returns the JOINED.
func (c *client) join(matchID, ticket string) protocol.ServerMsg {
	c.t.Helper()
	req := c.nextReq()
	c.send(protocol.ClientMsg{Op: protocol.OpJoin, Req: req, Match: matchID, Ticket: ticket})
	m := c.expect(protocol.OpJoined)
	if m.Req != req {
		c.t.Fatalf("JOINED answers req %d, want %d", m.Req, req)
	}
	return m
}

// mirror applies frames to a game.Mirror until pred holds.
func (c *client) feedUntil(mi *game.Mirror, pred func(*protocol.ServerMsg) bool) protocol.ServerMsg {
	c.t.Helper()
	for {
		m := c.next()
		var err error
		switch m.Op {
		case protocol.OpJoined:
			err = mi.ApplyJoined(&m)
		case protocol.OpDelta:
			err = mi.ApplyDelta(&m)
		case protocol.OpCatchup:
			err = mi.ApplyCatchup(&m)
		}
		if err != nil {
			c.t.Fatalf("apply op %d: %v", m.Op, err)
		}
		if pred(&m) {
			return m
		}
	}
}

// with returns the server as seen from another (sub)test, so failures are reported there.
func (ts *testServer) with(t *testing.T) *testServer {
	c := *ts
	c.t = t
	return &c
}

// raw returns the body of a request as text.
func (ts *testServer) raw(method, path, token string) string {
	ts.t.Helper()
	req, _ := http.NewRequest(method, ts.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func decodeJSON(t *testing.T, resp *http.Response, out any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
