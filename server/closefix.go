package server

import (
	"bufio"
	"bytes"
	"net"
	"net/http"

	"github.com/lxzan/gws"
)

// gws (v1.10) reports a compressed message that inflates past the read limit as an internal
// error: it closes with 1011 and the reason "gws: message too large". 1011 is reconnectable, so
// a client would reconnect and send the same message again; the protocol says 1009 (terminal).
// closeCodeConn rewrites that one close frame on its way out. It is only used when
// permessage-deflate is on (without it, gws closes oversized frames with 1009 itself).
type closeCodeConn struct{ net.Conn }

// tooLargeReason is the reason gws writes after the 1011 status for an oversized inflated message.
var tooLargeReason = []byte("gws: message too large")

func (c *closeCodeConn) Write(b []byte) (int, error) {
	// A server close frame: FIN+opcode 8, unmasked, short length, status 1011 (0x03F3).
	if len(b) >= 4 && b[0] == 0x88 && int(b[1]) == len(b)-2 && b[2] == 0x03 && b[3] == 0xF3 && bytes.Equal(b[4:], tooLargeReason) {
		fixed := append([]byte(nil), b...)
		fixed[2], fixed[3] = 0x03, 0xF1 // 1009
		return c.Conn.Write(fixed)
	}
	return c.Conn.Write(b)
}

// upgrade is srv.upgrader.Upgrade, over rawReadConn, or through closeCodeConn when compression
// is on.
func (srv *Server) upgrade(w http.ResponseWriter, r *http.Request) (*gws.Conn, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, http.ErrNotSupported
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	// rawReadConn: reads that stay out of the scheduler's system-call path (rawconn.go); with
	// compression, closeCodeConn fixes gws's close code for a message that inflates too large.
	var conn net.Conn = &closeCodeConn{Conn: nc}
	if !srv.cfg.Compression {
		conn = newRawReadConn(nc, srv.cfg.ReadMode == ReadModeTick)
	}
	// The request was read in full (an upgrade request has no body), so brw holds nothing
	// more of the client's; like gws's own Upgrade, read the connection with a small buffer.
	br := bufio.NewReaderSize(conn, 1024)
	if brw.Reader.Buffered() > 0 {
		br = brw.Reader // a client that sent frames before the 101: keep them
		if rc, ok := conn.(*rawReadConn); ok {
			head, _ := br.Peek(br.Buffered())
			rc.fr.feed(head) // gws gets them before anything rawReadConn reads
		}
	}
	return srv.upgrader.UpgradeFromConn(conn, br, r)
}
