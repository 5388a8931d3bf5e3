package floor

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"github.com/tickrelay/tickrelay/protocol"
)

// testClient collects the frames a gws client receives.
type testClient struct {
	gws.BuiltinEventHandler
	frames chan []byte
}

func (c *testClient) OnMessage(_ *gws.Conn, m *gws.Message) {
	c.frames <- append([]byte(nil), m.Bytes()...)
	_ = m.Close()
}

func dial(t *testing.T, url string) (*gws.Conn, *testClient) {
	t.Helper()
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", protocol.Subprotocol)
	tc := &testClient{frames: make(chan []byte, 256)}
	conn, _, err := gws.NewClient(tc, &gws.ClientOption{Addr: "ws" + strings.TrimPrefix(url, "http") + "/ws?token=x", RequestHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	go conn.ReadLoop()
	t.Cleanup(func() { _ = conn.WriteClose(1000, nil) })
	return conn, tc
}

func next(t *testing.T, tc *testClient, want protocol.Op) *protocol.ServerMsg {
	t.Helper()
	deadline := time.After(3 * time.Second)
	for {
		select {
		case b := <-tc.frames:
			var m protocol.ServerMsg
			if err := protocol.DecodeServer(b, &m); err != nil {
				t.Fatalf("floor sent an invalid frame % x: %v", b, err)
			}
			if m.Op == want {
				m2 := m
				m2.Members = append([]byte(nil), m.Members...)
				return &m2
			}
		case <-deadline:
			t.Fatalf("no op %d within 3s", want)
		}
	}
}

func TestFloorJoinInputDelta(t *testing.T) {
	s := New(Config{Tick: 10 * time.Millisecond})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	defer s.Close()
	checkFloor(t, hs.URL)
}

// checkFloor plays a match of three against the floor at url (http://host:port): JOINED with
// the members so far, a DELTA acking each one's input, the size of arena's, and the HTTP the
// load generator reads.
func checkFloor(t *testing.T, url string) {
	t.Helper()
	hsURL := url
	const players = 3
	conns := make([]*gws.Conn, players)
	tcs := make([]*testClient, players)
	for i := range conns {
		conns[i], tcs[i] = dial(t, hsURL)
		next(t, tcs[i], protocol.OpWelcome)
		join := protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpJoin, Req: 7, Match: "m1"})
		if err := conns[i].WriteMessage(gws.OpcodeBinary, join); err != nil {
			t.Fatal(err)
		}
		j := next(t, tcs[i], protocol.OpJoined)
		r := protocol.NewReader(j.Members)
		if n, _ := r.MapLen(); j.Req != 7 || j.Match != "m1" || j.PID != uint32(i+1) || n != i+1 {
			t.Fatalf("JOINED %+v members %d", j, n)
		}
	}
	// every player sends input 300 (a 3-byte uint): each gets a delta acking it, the size of an
	// arena delta for 3 players
	for _, c := range conns {
		in := protocol.AppendInput(nil, 300, 0, []byte{0x92, 0x01, 0x00})
		if err := c.WriteMessage(gws.OpcodeBinary, in); err != nil {
			t.Fatal(err)
		}
	}
	for i, tc := range tcs {
		deadline := time.After(3 * time.Second)
	wait:
		for {
			select {
			case b := <-tc.frames:
				var m protocol.ServerMsg
				if err := protocol.DecodeServer(b, &m); err != nil {
					t.Fatal(err)
				}
				if m.Op == protocol.OpDelta && m.HasAck && m.Ack == 300 {
					// The delta carries the players whose input the same tick applied: all
					// three when the inputs arrived together, fewer when a tick fell between
					// them (10 ms ticks), but at least this player.
					if len(b) < 14 || len(b) > 14*players+20 {
						t.Errorf("client %d: delta of %d bytes for %d players", i, len(b), players)
					}
					break wait
				}
			case <-deadline:
				t.Fatalf("client %d: no ack", i)
			}
		}
	}

	// HTTP
	resp, err := http.Get(hsURL + "/v1/matches/m1")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET match: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(hsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	for _, want := range []string{"go_goroutines ", "tickrelay_tick_duration_seconds_bucket{le=\"+Inf\"}"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestFloorRefusesWithoutSubprotocol(t *testing.T) {
	s := New(Config{})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	defer s.Close()
	_, _, err := gws.NewClient(&testClient{frames: make(chan []byte, 1)}, &gws.ClientOption{Addr: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"})
	if err == nil {
		t.Fatal("upgrade without tickrelay.v1 accepted")
	}
}

func TestWireMatchesProtocol(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1} {
		got := protocol.AppendUint(nil, v)
		want := protocol.AppendUint(nil, v)
		if string(got) != string(want) {
			t.Errorf("protocol.AppendUint(%d) = % x, want % x", v, got, want)
		}
		r, n, ok := readUint(got, 0)
		if !ok || r != v || n != len(got) {
			t.Errorf("readUint(% x) = %d %d %v", got, r, n, ok)
		}
	}
	for _, s := range []string{"", "m1", strings.Repeat("x", 31), strings.Repeat("y", 32), strings.Repeat("z", 200)} {
		b := protocol.AppendString(nil, s)
		if string(b) != string(protocol.AppendString(nil, s)) {
			t.Errorf("protocol.AppendString(%d bytes) differs", len(s))
		}
		got, n, ok := readStr(b, 0)
		if !ok || got != s || n != len(b) {
			t.Errorf("readStr(%d bytes) = %d bytes %v", len(s), len(got), ok)
		}
	}
	if _, _, ok := readUint([]byte{0xcd, 1}, 0); ok {
		t.Error("truncated uint16 read")
	}
	if _, _, ok := readStr([]byte{0xa5, 'a'}, 0); ok {
		t.Error("truncated str read")
	}
}
