package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// recorder is a game that records, in the order the match applies them, every input and
// message of every player of every match: "i<seq>" and "m<payload as uint>".
type recorder struct {
	mu  sync.Mutex
	log map[string][]string // by match id + "/" + pid
}

type recLogic struct {
	game.Base
	r *recorder
}

func (l recLogic) Input(ctx *game.Ctx, p *game.Player, seq uint32, _ []byte) {
	l.r.add(ctx.MatchID(), p.PID, fmt.Sprintf("i%d", seq))
}

func (l recLogic) Message(ctx *game.Ctx, p *game.Player, to []uint32, echo bool, payload []byte) {
	var v uint64
	_ = protocol.Unmarshal(payload, &v)
	l.r.add(ctx.MatchID(), p.PID, fmt.Sprintf("m%d", v))
}

func (r *recorder) add(match string, pid uint32, s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := fmt.Sprint(match, "/", pid)
	r.log[k] = append(r.log[k], s)
}

// of is what match m applied of pid.
func (r *recorder) of(m *game.Match, pid uint32) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log[fmt.Sprint(m.ID(), "/", pid)]...)
}

// tickEnv is a server in tick mode (or loop mode, to compare) on a manual clock with one
// recording match.
type tickEnv struct {
	t     *testing.T
	ts    *testServer
	clock *game.ManualClock
	rec   *recorder
	m     *game.Match
}

func newTickEnv(t *testing.T, mode string, mutate ...func(*Config)) *tickEnv {
	t.Helper()
	e := &tickEnv{t: t, clock: game.NewManualClock(), rec: &recorder{log: map[string][]string{}}}
	cat := DefaultCatalog()
	cat.Register(game.GameType{Name: "rec", New: func() game.Logic { return recLogic{r: e.rec} },
		Defaults: game.Options{TickRate: 20, MaxPlayers: 8}})
	e.ts = startServer(t, append([]func(*Config){func(c *Config) {
		c.Clock, c.Catalog, c.ReadMode, c.GuestRate = e.clock, cat, mode, -1
		c.PingInterval = time.Hour // no server pings in the middle of a test
	}}, mutate...)...)
	e.ts.srv.tickWatch.notify = make(chan struct{}, 1)
	e.m = e.create()
	return e
}

func (e *tickEnv) create() *game.Match {
	m, err := e.ts.srv.reg.Create(game.CreateOptions{Game: "rec"})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// step runs one tick of m and waits until it is done.
func (e *tickEnv) step(m *game.Match) {
	e.t.Helper()
	e.clock.Advance(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Inspect(ctx, func(*game.Ctx) {}); err != nil && err != game.ErrMatchEnded {
		e.t.Fatal(err)
	}
}

// stepUntil ticks m until c receives a frame pred accepts (the frames before it are returned).
func (e *tickEnv) stepUntil(m *game.Match, c *client, pred func(*protocol.ServerMsg) bool) (protocol.ServerMsg, []protocol.ServerMsg) {
	e.t.Helper()
	var seen []protocol.ServerMsg
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		e.step(m)
		for {
			var f []byte
			select {
			case f = <-c.frames:
			case <-time.After(5 * time.Millisecond): // nothing more now: tick again
			}
			if f == nil {
				break
			}
			var msg protocol.ServerMsg
			if err := protocol.DecodeServer(f, &msg); err != nil {
				e.t.Fatalf("undecodable frame: %v", err)
			}
			if pred(&msg) {
				return msg, seen
			}
			seen = append(seen, msg)
		}
	}
	e.t.Fatal("the frame did not come within 10 s of ticks")
	return protocol.ServerMsg{}, nil
}

// join connects a player to m and returns it with its pid once JOINED.
func (e *tickEnv) join(m *game.Match, name string) (*client, uint32) {
	e.t.Helper()
	c, _ := e.ts.connect(name)
	c.send(protocol.ClientMsg{Op: protocol.OpJoin, Req: 1, Match: m.ID()})
	j, _ := e.stepUntil(m, c, func(s *protocol.ServerMsg) bool { return s.Op == protocol.OpJoined })
	return c, j.PID
}

// joinParked joins name to m and sends input 1, after which its read loop parks (the only one).
func (e *tickEnv) joinParked(m *game.Match, name string) (*client, uint32) {
	e.t.Helper()
	c, pid := e.join(m, name)
	c.send(inputMsg(1))
	e.waitParked(1)
	return c, pid
}

// waitParked waits until n read loops are parked.
func (e *tickEnv) waitParked(n int) {
	e.t.Helper()
	for end := time.After(10 * time.Second); e.ts.srv.tickWatch.parked() != n; {
		select {
		case <-e.ts.srv.tickWatch.notify:
		case <-end:
			e.t.Fatalf("%d read loops parked, want %d", e.ts.srv.tickWatch.parked(), n)
		}
	}
}

// session is the server side of user's one connection.
func (e *tickEnv) session(c *client) *session {
	e.t.Helper()
	ss := e.ts.srv.hub.ofUser(c.welcome.User)
	if len(ss) != 1 {
		e.t.Fatalf("%d sessions of %s", len(ss), c.welcome.User)
	}
	return ss[0]
}

// queued is how many bytes wait in the server side of s's socket (FIONREAD).
func queued(t *testing.T, s *session) int {
	var n int32
	err := s.tick.c.rc.Control(func(fd uintptr) {
		_, _, _ = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// waitQueued waits until the server side of s's socket holds want bytes (loopback delivery).
func waitQueued(t *testing.T, s *session, want int) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); queued(t, s) != want; {
		if time.Now().After(end) {
			t.Fatalf("%d bytes queued, want %d", queued(t, s), want)
		}
		time.Sleep(100 * time.Microsecond) // polling the kernel's count
	}
}

// raw writes bytes on the client's socket as they are (frames built by clientFrame).
func (c *client) raw(b []byte) {
	c.t.Helper()
	if _, err := c.conn.NetConn().Write(b); err != nil {
		c.t.Fatalf("raw write: %v", err)
	}
}

func randKey() (k [4]byte) {
	_, _ = rand.Read(k[:])
	return k
}

func msgFrame(m protocol.ClientMsg) []byte {
	return clientFrame(0x80|wsBinary, protocol.AppendClient(nil, &m), randKey())
}

func (e *tickEnv) counters() (parks, handBacks, frames float64) {
	mt := e.ts.srv.metrics
	return testutil.ToFloat64(mt.tickParks), testutil.ToFloat64(mt.tickHandBacks), testutil.ToFloat64(mt.tickFrames)
}
