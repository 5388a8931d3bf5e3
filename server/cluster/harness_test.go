package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/servertest"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

// instance is one in-process tickrelay server with a cluster bus, on 127.0.0.1:0.
type instance struct {
	t      *testing.T
	name   string
	srv    *server.Server
	bus    *Bus
	base   string // http://127.0.0.1:port
	ownDir bool
	ws     string
}

// substrate builds each instance's broker and directory (memory or Redis).
type substrate struct {
	broker    func(node string) Broker
	directory func(node string) Directory
	names     Names
	ownDir    bool // each instance has its own directory client: close it with the instance
}

// redisSubstrate gives each instance its own Redis broker and directory (rc: standalone or
// cluster), under a prefix of the test's own.
func redisSubstrate(t *testing.T, rc RedisConfig) substrate {
	names := testNames()
	return substrate{
		broker: func(node string) Broker {
			c := rc
			c.Name = node
			b, err := NewRedisBroker(c)
			must(t, err)
			return b
		},
		directory: func(node string) Directory {
			d, err := NewRedisDirectory(rc, DirectoryConfig{Names: names})
			must(t, err)
			return d
		},
		names:  names,
		ownDir: true,
	}
}

func memorySubstrate(net *MemoryNetwork, dir *MemoryDirectory) substrate {
	return substrate{
		broker:    func(node string) Broker { return net.Broker(node, nil) },
		directory: func(string) Directory { return dir },
	}
}

// fastBus shortens the periods so that tests of loss and liveness finish quickly.
func fastBus(c *BusConfig) {
	c.Heartbeat, c.Liveness = 200*time.Millisecond, 200*time.Millisecond
}

func startInstance(t *testing.T, name string, sub substrate, mutate ...func(*BusConfig, *server.Config)) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, name: name, ownDir: sub.ownDir, base: "http://" + ln.Addr().String(), ws: "ws://" + ln.Addr().String() + "/ws"}
	broker := sub.broker(name)
	bc := BusConfig{Broker: broker, Directory: sub.directory(name), Names: sub.names}
	cfg := server.Config{Secret: testSecret, NodeID: name, PublicURL: in.base, Log: slog.New(slog.DiscardHandler),
		APIKey: "op-key", ShutdownGrace: 2 * time.Second, ReadMode: server.ReadModeTick} // the binary's default
	for _, f := range mutate {
		f(&bc, &cfg)
	}
	factory := NewBus(bc)
	cfg.Bus = func(env server.BusEnv) (server.Bus, error) {
		b, err := factory(env)
		if err == nil {
			in.bus = b.(*Bus)
		}
		return b, err
	}
	in.srv, err = server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in.srv.Serve(ln)
	t.Cleanup(func() { in.stop() })
	return in
}

var stopped sync.Map

func (in *instance) stop() {
	if _, done := stopped.LoadOrStore(in, true); done {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.srv.Shutdown(ctx); err != nil {
		in.t.Errorf("shutdown %s: %v", in.name, err)
	}
	_ = in.bus.cfg.Broker.Close()
	if in.ownDir {
		_ = in.bus.cfg.Directory.Close()
	}
}

// waitNodes waits until every instance sees n live nodes.
func waitNodes(t *testing.T, n int, ins ...*instance) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, in := range ins {
		for {
			in.bus.heartbeat()
			if ns := in.bus.nodes.Load(); ns != nil && len(*ns) == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not see %d nodes", in.name, n)
			}
			time.Sleep(20 * time.Millisecond) // polling the directory, not synchronising the test
		}
	}
}

func (in *instance) do(method, path, token string, body any, out any) int {
	in.t.Helper()
	return servertest.DoJSON(in.t, method, in.base+path, token, body, out)
}

func (in *instance) guest(name string) string {
	in.t.Helper()
	token, _ := servertest.Guest(in.t, in.base, name)
	return token
}

type created struct {
	Match       server.MatchInfo   `json:"match"`
	Reservation server.Reservation `json:"reservation"`
}

func (in *instance) create(token string, body map[string]any) created {
	in.t.Helper()
	var c created
	if st := in.do("POST", "/v1/matches", token, body, &c); st != 201 {
		in.t.Fatalf("create on %s: %d", in.name, st)
	}
	return c
}

// viewOf is the owner's checksum of what pid sees in match id.
func viewOf(t *testing.T, owner *instance, id string, pid uint32) uint64 {
	t.Helper()
	m, ok := owner.srv.Registry().Get(id)
	if !ok {
		t.Fatalf("%s does not run %s", owner.name, id)
	}
	var sum uint64
	if err := m.Inspect(context.Background(), func(c *game.Ctx) { sum = c.State().ViewChecksum(pid) }); err != nil {
		t.Fatal(err)
	}
	return sum
}

// client is a real gws WebSocket client that collects frames (raw, for byte comparisons).
type client struct {
	t       *testing.T
	conn    *gws.Conn
	frames  chan []byte
	done    chan struct{}
	req     uint32
	welcome protocol.ServerMsg
	last    []byte // the raw bytes of the frame next returned last
	closed  error  // why the connection closed (a *gws.CloseError for a close frame); read after done
}

type clientHandler struct {
	gws.BuiltinEventHandler
	c *client
}

func (h *clientHandler) OnClose(_ *gws.Conn, err error) { h.c.closed = err }

func (h *clientHandler) OnMessage(_ *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	select {
	case h.c.frames <- append([]byte(nil), msg.Bytes()...):
	default:
		h.c.t.Errorf("test client buffer full")
	}
}

func (in *instance) connect(name string) *client {
	in.t.Helper()
	return in.dialToken(in.guest(name))
}

func (in *instance) dialToken(tok string) *client {
	in.t.Helper()
	c := &client{t: in.t, frames: make(chan []byte, 1<<14), done: make(chan struct{})}
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", protocol.Subprotocol)
	conn, _, err := gws.NewClient(&clientHandler{c: c}, &gws.ClientOption{Addr: in.ws + "?token=" + tok, RequestHeader: h,
		ReadMaxPayloadSize: 1 << 20})
	if err != nil {
		in.t.Fatalf("dial %s: %v", in.name, err)
	}
	c.conn = conn
	go func() {
		defer close(c.done)
		conn.ReadLoop()
	}()
	in.t.Cleanup(c.close)
	c.welcome = c.expect(protocol.OpWelcome)
	return c
}

func (c *client) close() {
	_ = c.conn.WriteClose(1000, nil)
	<-c.done
}

// drop cuts the connection without a close frame (a lost connection: the seat is kept).
func (c *client) drop() {
	_ = c.conn.NetConn().Close()
	<-c.done
}

func (c *client) send(m protocol.ClientMsg) {
	c.t.Helper()
	if err := c.conn.WriteMessage(gws.OpcodeBinary, protocol.AppendClient(nil, &m)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *client) nextReq() uint32 { c.req++; return c.req }

func (c *client) next() protocol.ServerMsg {
	c.t.Helper()
	var f []byte
	select {
	case f = <-c.frames:
	case <-time.After(10 * time.Second):
		c.t.Fatal("no frame within 10 s")
	}
	var m protocol.ServerMsg
	if err := protocol.DecodeServer(f, &m); err != nil {
		c.t.Fatalf("undecodable frame %x: %v", f, err)
	}
	c.last = f
	return m
}

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

// feed applies one frame to mi the way a client does; it returns the frame.
func (c *client) feed(mi *game.Mirror) protocol.ServerMsg {
	c.t.Helper()
	m := c.next()
	var err error
	switch m.Op {
	case protocol.OpJoined:
		err = mi.ApplyJoined(&m)
	case protocol.OpDelta:
		err = mi.ApplyDelta(&m)
	case protocol.OpCatchup:
		err = mi.ApplyCatchup(&m)
	case protocol.OpEnd:
		c.t.Fatalf("END %+v", m)
	}
	if err != nil {
		c.t.Fatalf("apply op %d: %v", m.Op, err)
	}
	return m
}

func (c *client) feedUntil(mi *game.Mirror, pred func(*protocol.ServerMsg) bool) protocol.ServerMsg {
	c.t.Helper()
	for {
		if m := c.feed(mi); pred(&m) {
			return m
		}
	}
}

// converge feeds frames until the mirror equals want (the owner's view of a static state).
// idle, when set, runs whenever no frame came for 100 ms (a test on a manual clock ticks the
// match there: catch-ups are answered at the next tick).
func (c *client) converge(mi *game.Mirror, want func() uint64, idle ...func()) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for mi.Checksum() != want() {
		if time.Now().After(deadline) {
			c.t.Fatal("mirror never equalled the server's view")
		}
		select {
		case f := <-c.frames:
			c.apply(mi, f)
		case <-time.After(100 * time.Millisecond): // no frame in flight: compare again
			for _, f := range idle {
				f()
			}
		}
	}
}

func (c *client) apply(mi *game.Mirror, f []byte) protocol.ServerMsg {
	c.t.Helper()
	var m protocol.ServerMsg
	if err := protocol.DecodeServer(f, &m); err != nil {
		c.t.Fatalf("undecodable frame %x: %v", f, err)
	}
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
	return m
}

// sharedPart is a DELTA frame without its three per-member elements (ack, private, direct).
func sharedPart(t *testing.T, f []byte) []byte {
	t.Helper()
	r := protocol.NewReader(f)
	if n, err := r.ArrayLen(); err != nil || n != 9 {
		t.Fatalf("not a delta: %x", f)
	}
	for i := 0; i < 6; i++ {
		if err := r.Skip(2); err != nil {
			t.Fatal(err)
		}
	}
	return f[1:r.Offset()] // without the array header (which counts the tail too)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var _ = fmt.Sprint

func bearerRequest(tok string) *http.Request {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}
