package loadgen

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lxzan/gws"
	"github.com/tickrelay/tickrelay/protocol"
)

// rawSetup is an epoll client before it joins its pool: the load generator's own WebSocket
// handshake over a blocking net.Conn, then frames read one by one until JOINED. The same
// client code (receive, onOther) handles them as for gws clients. After JOINED, detach hands
// the socket (a duplicate of its descriptor) and any bytes already read to the pool.
type rawSetup struct {
	conn net.Conn
	buf  []byte // read but not yet parsed
	re   reassembler
	out  []byte
}

var errNotUpgraded = errors.New("upgrade refused")

// dialRaw opens the WebSocket (TCP connect + HTTP upgrade, subprotocol tickrelay.v1, no
// extensions) and waits for WELCOME. It returns the handshake time.
func (c *client) dialRaw(ctx context.Context, addr, token string, timeout time.Duration) (time.Duration, error) {
	c.setupCh = make(chan setupEvent, 4)
	start := time.Now()
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return time.Since(start), fmt.Errorf("upgrade: %w", err)
	}
	deadline := time.Now().Add(timeout)
	_ = conn.SetDeadline(deadline)
	s := &rawSetup{conn: conn}
	err = s.handshake(addr, token)
	hs := time.Since(start) // TCP connect + upgrade
	if err != nil {
		_ = conn.Close()
		return hs, fmt.Errorf("upgrade: %w", err)
	}
	c.setup = s
	ev, err := s.await(c, deadline)
	if err != nil {
		return hs, fmt.Errorf("waiting for WELCOME: %w", err)
	}
	if ev.op != protocol.OpWelcome {
		return hs, fmt.Errorf("first message was op %d, not WELCOME", ev.op)
	}
	return hs, nil
}

// websocketGUID is RFC 6455's key suffix for Sec-WebSocket-Accept.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// handshake sends the upgrade request and reads the answer; bytes after the response head
// stay in s.buf (the server may send WELCOME in the same segment).
func (s *rawSetup) handshake(addr, token string) error {
	var k [16]byte
	binary.LittleEndian.PutUint64(k[:], rand.Uint64())
	binary.LittleEndian.PutUint64(k[8:], rand.Uint64())
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET /ws?token=" + url.QueryEscape(token) + " HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + protocol.Subprotocol + "\r\n\r\n"
	if _, err := s.conn.Write([]byte(req)); err != nil {
		return err
	}
	var head string
	for {
		if i := strings.Index(string(s.buf), "\r\n\r\n"); i >= 0 {
			head, s.buf = string(s.buf[:i+4]), append([]byte(nil), s.buf[i+4:]...)
			break
		}
		if len(s.buf) > 16<<10 {
			return errors.New("response head over 16 KiB")
		}
		if err := s.fill(); err != nil {
			return err
		}
	}
	lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
	var status int
	if _, err := fmt.Sscanf(lines[0], "HTTP/1.1 %d", &status); err != nil {
		return fmt.Errorf("bad status line %q", lines[0])
	}
	if status != http.StatusSwitchingProtocols {
		return fmt.Errorf("%w: HTTP %d", errNotUpgraded, status)
	}
	h := http.Header{}
	for _, l := range lines[1:] {
		if name, v, ok := strings.Cut(l, ":"); ok {
			h.Add(strings.TrimSpace(name), strings.TrimSpace(v))
		}
	}
	switch {
	case !strings.EqualFold(h.Get("Upgrade"), "websocket"):
		return errors.New("no Upgrade: websocket")
	case h.Get("Sec-WebSocket-Accept") != acceptKey(key):
		return errors.New("wrong Sec-WebSocket-Accept")
	case h.Get("Sec-WebSocket-Protocol") != protocol.Subprotocol:
		return fmt.Errorf("server chose subprotocol %q", h.Get("Sec-WebSocket-Protocol"))
	case h.Get("Sec-WebSocket-Extensions") != "":
		return fmt.Errorf("server chose extensions %q that were not offered", h.Get("Sec-WebSocket-Extensions"))
	}
	return nil
}

func (s *rawSetup) fill() error {
	var tmp [4096]byte
	n, err := s.conn.Read(tmp[:])
	s.buf = append(s.buf, tmp[:n]...)
	if n > 0 {
		return nil
	}
	return err
}

// await reads and handles frames until the client signals a setup event (WELCOME, JOINED,
// ERROR) or the deadline passes.
func (s *rawSetup) await(c *client, deadline time.Time) (setupEvent, error) {
	_ = s.conn.SetDeadline(deadline)
	for {
		select {
		case ev := <-c.setupCh:
			return ev, ev.err
		default:
		}
		f, ok, err := parseFrame(s.buf)
		if err != nil {
			return setupEvent{}, err
		}
		if !ok {
			if err := s.fill(); err != nil {
				if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
					return setupEvent{}, errors.New("timed out")
				}
				return setupEvent{}, err
			}
			continue
		}
		err = s.frame(c, f)
		s.buf = s.buf[:copy(s.buf, s.buf[f.size:])]
		if err != nil {
			return setupEvent{}, err
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// frame handles one frame during setup: data to the client, a PING answered, a CLOSE an error.
func (s *rawSetup) frame(c *client, f frame) error {
	switch f.op {
	case wsPing:
		return s.write(wsPong, f.payload)
	case wsPong:
		return nil
	case wsClose:
		return closeFrameErr(f.payload)
	}
	msg, err := s.re.add(f)
	if err != nil || msg == nil {
		return err
	}
	c.wireIn.Add(int64(f.size))
	c.receive(msg, c.r.now())
	return nil
}

func (s *rawSetup) write(op byte, payload []byte) error {
	s.out = appendClientFrame(s.out[:0], op, payload, rand.Uint32())
	_, err := s.conn.Write(s.out)
	return err
}

// joinRaw sends JOIN and waits for JOINED.
func (c *client) joinRaw(ctx context.Context, matchID, ticket string, timeout time.Duration) error {
	b := protocol.AppendClient(nil, &protocol.ClientMsg{Op: protocol.OpJoin, Req: 1, Match: matchID, Ticket: ticket})
	if err := c.setup.write(wsBinary, b); err != nil {
		return fmt.Errorf("sending JOIN: %w", err)
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ev, err := c.setup.await(c, deadline)
	if err != nil {
		return fmt.Errorf("waiting for JOINED: %w", err)
	}
	if ev.op != protocol.OpJoined {
		return fmt.Errorf("JOIN answered with op %d", ev.op)
	}
	return nil
}

// closeFrameErr is the error a CLOSE frame from the server means (as gws reports it).
func closeFrameErr(p []byte) error {
	ce := &gws.CloseError{Code: 1005}
	if len(p) >= 2 {
		ce.Code = binary.BigEndian.Uint16(p)
		ce.Reason = append([]byte(nil), p[2:]...)
	}
	return ce
}

// closeSetup closes a client that never reached its pool: CLOSE 1000, then the socket.
func (s *rawSetup) closeSetup() {
	_ = s.conn.SetDeadline(time.Now().Add(time.Second))
	_ = s.write(wsClose, []byte{0x03, 0xe8})
	_ = s.conn.Close()
}
