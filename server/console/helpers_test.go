package console

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/cluster"
)

const testKey = "operator-key-for-tests-0123456789"

// logBuf collects an instance's JSON log lines (the audit trail) safely across goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the log records whose msg is msg.
func (l *logBuf) lines(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, ln := range strings.Split(l.b.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(ln), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// clock is a console clock the test steps.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// node is one started server with its console on a real admin listener.
type node struct {
	t       *testing.T
	srv     *server.Server
	con     *Console
	log     *logBuf
	clock   *clock
	admin   string // http://127.0.0.1:port
	drained chan struct{}
}

// start runs a server (with bus, when given: a cluster bus factory) and its console.
func start(t *testing.T, name string, bus server.BusFactory, mutate ...func(*Config)) *node {
	t.Helper()
	n := &node{t: t, log: &logBuf{}, clock: &clock{now: time.Now()}, drained: make(chan struct{})}
	log := slog.New(slog.NewJSONHandler(n.log, nil))
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", NodeID: name, Log: log, Bus: bus,
		Secret: []byte("0123456789abcdef0123456789abcdef-console"), APIKey: testKey, ShutdownGrace: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Server: srv, Key: testKey, Log: log, Version: "test", Now: n.clock.Now, SampleEvery: 100 * time.Millisecond,
		Drain: func() { close(n.drained) }}
	for _, f := range mutate {
		f(&cfg)
	}
	con, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	con.Mount()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	n.srv, n.con, n.admin = srv, con, "http://"+srv.AdminAddr().String()
	t.Cleanup(func() {
		con.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return n
}

// operatorClient is an HTTP client with a cookie jar, as a browser keeps the session cookie.
type operatorClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (n *node) client() *operatorClient {
	jar, _ := cookiejar.New(nil)
	return &operatorClient{t: n.t, base: n.admin, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// do sends a request like the console's page does (JSON body, same Origin) and decodes the answer.
func (o *operatorClient) do(method, path string, body any, out any) (int, http.Header) {
	o.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, o.base+path, rd)
	if err != nil {
		o.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", o.base)
	resp, err := o.c.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			o.t.Fatalf("%s %s: %v in %q", method, path, err, b)
		}
	}
	return resp.StatusCode, resp.Header
}

func (o *operatorClient) login(name, key string) int {
	o.t.Helper()
	code, _ := o.do("POST", "/console/api/login", map[string]string{"name": name, "key": key}, nil)
	return code
}

type apiErr struct {
	Error struct {
		Code      int    `json:"code"`
		Name      string `json:"name"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// sink is a member's sink that counts frames and records when it was detached.
type sink struct {
	mu       sync.Mutex
	frames   int
	detached chan protocol.LeaveReason
}

func newSink() *sink { return &sink{detached: make(chan protocol.LeaveReason, 4)} }

func (s *sink) Deliver(shared, tail []byte) { s.mu.Lock(); s.frames++; s.mu.Unlock() }
func (s *sink) Detached(_ string, _ uint32, r protocol.LeaveReason) {
	select {
	case s.detached <- r:
	default:
	}
}

// match creates a relay match on n, announces it to the bus, and seats players in it.
func (n *node) match(label map[string]string, players ...string) (*game.Match, []*sink) {
	n.t.Helper()
	m, err := n.srv.Registry().Create(game.CreateOptions{Game: "relay", Label: label})
	if err != nil {
		n.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.srv.Bus().Announce(ctx, m.ID()); err != nil {
		n.t.Fatal(err)
	}
	var sinks []*sink
	for _, p := range players {
		s := newSink()
		if _, err := m.Join(ctx, p, p, nil, s, 1); err != nil {
			n.t.Fatal(err)
		}
		sinks = append(sinks, s)
	}
	// A join is answered while the match handles its inbox, and the listing is published at
	// the end of that tick: a request on the match goroutine runs after the tick, so the
	// listing counts every player once it returns.
	if err := m.Inspect(ctx, func(*game.Ctx) {}); err != nil {
		n.t.Fatal(err)
	}
	return m, sinks
}

// memoryCluster returns bus factories of instances sharing one memory broker network and
// directory.
func memoryCluster() func(name string) server.BusFactory {
	net := cluster.NewMemoryNetwork()
	dir := cluster.NewMemoryDirectory(cluster.DirectoryConfig{})
	return func(name string) server.BusFactory {
		return cluster.NewBus(cluster.BusConfig{Broker: net.Broker(name, nil), Directory: dir, Version: "test",
			Heartbeat: 100 * time.Millisecond, Liveness: 100 * time.Millisecond})
	}
}
