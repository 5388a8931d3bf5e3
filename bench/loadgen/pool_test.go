//go:build linux

package loadgen

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// poolRig: one epoll client in a pool, its socket's other end in the test (the "server").
type poolRig struct {
	r      *run
	p      *pool
	c      *client
	srv    net.Conn
	stop   chan struct{}
	done   chan struct{}
	passes chan struct{} // a pass of the pool's loop handled socket events
}

func newPoolRig(t *testing.T, role role, leftover []byte) *poolRig {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.Interval = 20 * time.Millisecond
	r := newRun(&cfg)
	c := &client{r: r, role: role, raw: true, setupCh: make(chan setupEvent, 4)}
	c.joined.Store(true)
	c.setup = &rawSetup{conn: cc, buf: leftover}
	p, err := newPool(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.add(c, true); err != nil {
		t.Fatal(err)
	}
	g := &poolRig{r: r, p: p, c: c, srv: sc, stop: make(chan struct{}), done: make(chan struct{}), passes: make(chan struct{}, 1)}
	p.onPass = func() {
		select {
		case g.passes <- struct{}{}:
		default: // one pending signal is enough: the waiter checks again
		}
	}
	go func() { defer close(g.done); p.loop(g.stop) }()
	t.Cleanup(func() { g.close(); sc.Close() })
	return g
}

func (g *poolRig) close() {
	select {
	case <-g.stop:
		return
	default:
	}
	close(g.stop)
	<-g.done
	g.p.closeAll()
}

// readClientFrame reads one masked frame from the client and unmasks it.
func readClientFrame(t *testing.T, conn net.Conn) (byte, []byte) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	h := make([]byte, 2)
	if _, err := io.ReadFull(conn, h); err != nil {
		t.Fatal(err)
	}
	if h[1]&0x80 == 0 || h[1]&0x7f > 125 {
		t.Fatalf("client frame header % x: unmasked or long", h)
	}
	rest := make([]byte, 4+int(h[1]&0x7f))
	if _, err := io.ReadFull(conn, rest); err != nil {
		t.Fatal(err)
	}
	p := rest[4:]
	key := uint32(rest[0])<<24 | uint32(rest[1])<<16 | uint32(rest[2])<<8 | uint32(rest[3])
	maskBytes(p, key)
	return h[0] & 0x0f, p
}

func delta(tick uint32) []byte {
	b := protocol.AppendDeltaHead(nil, 1, tick, tick-1)
	b = append(b, 0xc0, 0xc0)
	return protocol.AppendDeltaTail(b, false, 0, nil, nil)
}

// waitFor checks cond after each pass of the pool's loop (its own goroutine) that handled
// socket events, until it holds or 5 s pass.
func (g *poolRig) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-g.passes:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// readUntil reads the client's frames until one of op comes (at most 100 others before it)
// and returns its payload.
func readUntil(t *testing.T, conn net.Conn, want byte) []byte {
	t.Helper()
	for i := 0; i <= 100; i++ {
		if op, p := readClientFrame(t, conn); op == want {
			return p
		}
	}
	t.Fatalf("no frame of op %d among 100", want)
	return nil
}

func TestPoolSendsInputsAndCountsFrames(t *testing.T) {
	// a DELTA read with JOINED during setup is handled when the loop starts
	g := newPoolRig(t, roleCount, serverFrame(true, wsBinary, delta(7)))
	g.waitFor(t, "the leftover DELTA", func() bool { return g.c.lastTick.Load() == 7 })

	// inputs: masked binary frames INPUT [4, seq, seen, [dx, dy]], seq 1, 2, 3…, seen = last tick
	var m protocol.ClientMsg
	for want := uint32(1); want <= 3; want++ {
		op, p := readClientFrame(t, g.srv)
		if op != wsBinary {
			t.Fatalf("op %d", op)
		}
		if err := protocol.DecodeClient(p, &m); err != nil || m.Op != protocol.OpInput || m.Seq != want || m.Seen != 7 {
			t.Fatalf("input %d: %+v %v", want, m, err)
		}
	}

	// a DELTA split over three writes (segments, with TCP_NODELAY), then two in one write, then a fragmented one
	f := serverFrame(true, wsBinary, delta(8))
	for _, part := range [][]byte{f[:1], f[1:5], f[5:]} {
		if _, err := g.srv.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	two := append(serverFrame(true, wsBinary, delta(9)), serverFrame(true, wsBinary, delta(10))...)
	d11 := delta(11)
	frag := append(serverFrame(false, wsBinary, d11[:3]), serverFrame(true, wsContinuation, d11[3:])...)
	if _, err := g.srv.Write(append(two, frag...)); err != nil {
		t.Fatal(err)
	}
	g.waitFor(t, "tick 11", func() bool { return g.c.lastTick.Load() == 11 })
	if n := g.c.msgsIn.Load(); n != 5 {
		t.Fatalf("%d messages counted, want 5", n)
	}
	if b := g.c.bytesIn.Load(); b != int64(len(delta(7))*5) {
		t.Fatalf("%d bytes counted", b)
	}

	// a PING is answered with a masked PONG of the same payload (among the inputs)
	if _, err := g.srv.Write(serverFrame(true, wsPing, []byte("hi"))); err != nil {
		t.Fatal(err)
	}
	if p := readUntil(t, g.srv, wsPong); !bytes.Equal(p, []byte("hi")) {
		t.Fatalf("pong %q", p)
	}
	if d := g.r.drops.Load(); d != 0 {
		t.Fatalf("%d drops", d)
	}

	// the end: the pool closes with CLOSE 1000 (not a drop)
	g.close()
	if p := readUntil(t, g.srv, wsClose); !bytes.Equal(p, []byte{0x03, 0xe8}) {
		t.Fatalf("close payload % x", p)
	}
	if d := g.r.drops.Load(); d != 0 {
		t.Fatalf("closing counted %d drops", d)
	}
}

func TestPoolCountsTheServersCloseAsADrop(t *testing.T) {
	g := newPoolRig(t, roleAck, nil)
	if _, err := g.srv.Write(serverFrame(true, wsClose, []byte{0x0f, 0xa0, 'x'})); err != nil { // 4000
		t.Fatal(err)
	}
	g.waitFor(t, "the drop", func() bool { return g.r.drops.Load() == 1 })
	if n := g.r.errors()["dropped: close 4000"]; n != 1 {
		t.Fatalf("errors %v", g.r.errors())
	}
	// and a connection that simply ends (EOF) is one too
	g2 := newPoolRig(t, roleCount, nil)
	g2.srv.Close()
	g2.waitFor(t, "the EOF drop", func() bool { return g2.r.drops.Load() == 1 })
	// a bad frame (masked, from a server) ends the connection, counted
	g3 := newPoolRig(t, roleCount, nil)
	if _, err := g3.srv.Write([]byte{0x82, 0x81, 1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	g3.waitFor(t, "the protocol-error drop", func() bool { return g3.r.drops.Load() == 1 })
}
