//go:build linux

package floor

import (
	"bufio"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lxzan/gws"
)

// startEpoll runs an epoll floor on 127.0.0.1:0 in a goroutine until the test ends.
func startEpoll(t *testing.T, cfg Config) *EpollServer {
	t.Helper()
	s, err := ListenEpoll("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan error, 1)
	go func() { done <- s.Run(stop.Load) }()
	t.Cleanup(func() {
		stop.Store(true)
		if err := <-done; err != nil {
			t.Error(err)
		}
		s.Close()
	})
	return s
}

// The epoll floor speaks what the gws floor speaks, to the same gws clients and net/http.
func TestEpollFloorJoinInputDelta(t *testing.T) {
	s := startEpoll(t, Config{Tick: 10 * time.Millisecond})
	checkFloor(t, "http://"+s.Addr())
}

func TestEpollFloorRefusesWithoutSubprotocol(t *testing.T) {
	s := startEpoll(t, Config{})
	_, resp, err := gws.NewClient(&testClient{frames: make(chan []byte, 1)}, &gws.ClientOption{Addr: "ws://" + s.Addr() + "/ws"})
	if err == nil {
		t.Fatal("upgrade without tickrelay.v1 accepted")
	}
	if resp == nil || resp.StatusCode != 400 {
		t.Fatalf("answer %v", resp)
	}
}

// Two requests on one keep-alive connection, sent together, get two answers in order; a
// connection that sends an unmasked frame, or one over the read limit, is closed.
func TestEpollFloorHTTPAndFrameLimits(t *testing.T) {
	s := startEpoll(t, Config{ReadLimit: 64})
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /v1/auth/guest HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"))
	br := bufio.NewReader(c)
	for _, want := range []int{200, 200} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("answer %v %v", resp, err)
		}
		resp.Body.Close()
	}
	for name, frame := range map[string][]byte{
		"unmasked":       {0x82, 0x01, 0x90},
		"over the limit": append([]byte{0x82, 0x80 | 100, 0, 0, 0, 0}, make([]byte, 100)...),
		"fragmented":     {0x02, 0x81, 0, 0, 0, 0, 0x90},
	} {
		conn, tc := dial(t, "http://"+s.Addr())
		next(t, tc, 32) // WELCOME
		raw := conn.NetConn()
		if _, err := raw.Write(frame); err != nil {
			t.Fatal(err)
		}
		_ = raw.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 256)
		for {
			if _, err := raw.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("%s frame: the connection stayed open", name)
				}
				break // closed (after a close frame, for the one over the limit)
			}
		}
	}
}

// A client that stops reading is closed once MaxOutput is waiting for it; the others go on.
func TestEpollFloorSlowClientClosed(t *testing.T) {
	s := startEpoll(t, Config{Tick: time.Millisecond})
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetReadBuffer(4096)
	}
	// upgrade by hand, then ask for pongs with big pings and never read: each PING frame makes
	// a pong of the same size
	_, _ = c.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: tickrelay.v1\r\n\r\n"))
	ping := append([]byte{0x89, 0x80 | 125, 0, 0, 0, 0}, make([]byte, 125)...)
	var burst []byte
	for range 512 {
		burst = append(burst, ping...)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(burst); err != nil {
			return // the floor closed us: our writes fail
		}
		if s.Conns() == 0 {
			return
		}
	}
	t.Fatalf("a client that never reads was not closed (%d connections open)", s.Conns())
}

func TestParseHead(t *testing.T) {
	r, err := parseHead([]byte("GET /ws?token=x HTTP/1.1\r\nHost: a\r\nsec-websocket-protocol: a\r\nSec-WebSocket-Protocol: tickrelay.v1"))
	if err != nil || r.method != "GET" || r.path != "/ws?token=x" || r.headers["sec-websocket-protocol"] != "a, tickrelay.v1" {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range []string{"GET /", "GET / SPDY/3", "GET / HTTP/1.1\r\nno colon"} {
		if _, err := parseHead([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzEpollFloorInput feeds arbitrary bytes to an epoll-floor connection, as HTTP and as
// WebSocket frames, over a real socket pair: no input panics it or makes it keep more than it
// was sent.
func FuzzEpollFloorInput(f *testing.F) {
	f.Add([]byte("GET /healthz HTTP/1.1\r\n\r\n"), false)
	f.Add([]byte("POST /v1/matches HTTP/1.1\r\nContent-Length: 17\r\n\r\n{\"max_players\":2}"), false)
	f.Add([]byte{0x82, 0x85, 1, 2, 3, 4, 0x93 ^ 1, 2 ^ 2, 0xa2 ^ 3, 'm' ^ 4, '1' ^ 1}, true)
	f.Add([]byte{0x82, 0xfe, 0xff, 0xff}, true)
	f.Fuzz(func(t *testing.T, data []byte, ws bool) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fds[1])
		s := &EpollServer{cfg: Config{}, epfd: -1, matches: map[string]*ematch{}, welcome: welcomeFrame(), start: time.Now()}
		s.cfg.defaults()
		c := &econn{fd: fds[0], ws: ws}
		s.conns = make([]*econn, fds[0]+1)
		s.conns[fds[0]] = c
		s.nconns.Store(1)
		in := append([]byte(nil), data...)
		var used int
		if ws {
			used, err = s.frames(c, in)
		} else {
			used, err = s.requests(c, in)
		}
		if used < 0 || used > len(data) {
			t.Fatalf("used %d of %d bytes", used, len(data))
		}
		if err == nil && s.conn(fds[0]) == c && len(c.in)+used > len(data)+maxHead {
			t.Fatalf("kept %d bytes of %d", len(c.in), len(data))
		}
		if s.conn(fds[0]) == c {
			s.drop(c)
		}
		if s.nconns.Load() != 0 {
			t.Fatalf("%d connections after the drop", s.nconns.Load())
		}
	})
}
