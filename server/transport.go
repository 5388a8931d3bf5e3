package server

import (
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/lxzan/gws"
	"golang.org/x/time/rate"

	"github.com/tickrelay/tickrelay/protocol"
)

// newUpgrader builds the gws upgrader with the options design.md fixes: no parallel dispatch
// (order matters), panic recovery, UTF-8 checks, the inbound frame limit, a small read buffer,
// and compression only when configured.
func (srv *Server) newUpgrader() *gws.Upgrader {
	return gws.NewUpgrader(&wsHandler{srv: srv}, &gws.ServerOption{
		ParallelEnabled:    false,
		Recovery:           gws.Recovery,
		CheckUtf8Enabled:   true,
		ReadMaxPayloadSize: srv.cfg.MaxFrame,
		ReadBufferSize:     1024,
		SubProtocols:       []string{protocol.Subprotocol},
		PermessageDeflate:  gws.PermessageDeflate{Enabled: srv.cfg.Compression},
		NewSession:         func() gws.SessionStorage { return &oneSession{} },
		Logger:             gwsLogger{srv},
	})
}

// handleWS is GET /ws. Every refusal happens before the upgrade, as a proper HTTP response:
// 403 for a disallowed Origin, 401 for a missing or bad token, 400 without the subprotocol,
// 503 over a connection cap or while draining.
func (srv *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	if srv.draining.Load() {
		srv.reject(w, "draining", errDraining, "the server is draining")
		return
	}
	if !srv.originAllowed(r) {
		srv.reject(w, "origin", errForbidden, "origin not allowed")
		return
	}
	tok := bearer(r)
	if tok == "" {
		tok = r.URL.Query().Get("token")
	}
	if tok == "" {
		srv.metrics.authFailures.Inc()
		srv.refuseToken(w, r, errUnauthorized, "a session token is required")
		return
	}
	claims, err := srv.auth.VerifySession(tok)
	if err != nil {
		srv.metrics.authFailures.Inc()
		srv.refuseToken(w, r, err, "session token refused ("+strings.TrimPrefix(err.Error(), "auth: ")+"): get a new one")
		return
	}
	if !offersSubprotocol(r) {
		srv.reject(w, "subprotocol", errBadRequest, "offer the WebSocket subprotocol "+protocol.Subprotocol)
		return
	}
	ip := ipKey(srv.clientIP(r))
	if ok, which := srv.conns.acquire(claims.PlayerID, ip); !ok {
		srv.metrics.limited.WithLabelValues("conns_" + strings.TrimPrefix(which, "cap_")).Inc()
		srv.reject(w, which, errors.Join(errDraining, errors.New("connection limit")), connCapMessage[which])
		return
	}
	s := &session{srv: srv, user: claims.PlayerID, ip: ip, name: claims.Name, id: "s-" + newToken(), resumeToken: newToken(),
		limiter: rate.NewLimiter(rate.Limit(srv.cfg.InputRate), srv.cfg.InputBurst)}
	s.log = srv.log.With("user", s.user)
	conn, err := srv.upgrade(w, r)
	if err != nil {
		srv.conns.release(claims.PlayerID, ip)
		srv.metrics.rejected.WithLabelValues("upgrade").Inc()
		return
	}
	s.conn = conn
	if rc, ok := conn.NetConn().(*rawReadConn); ok && rc.tick != nil {
		s.tick, rc.tick.s = rc.tick, s // before the read loop starts
	}
	s.w = newWriter(conn, srv.cfg.OutboundQueue, srv.cfg.WriteTimeout, srv.cfg.Compression, s.closeSlow)
	conn.Session().Store("s", s)
	srv.metrics.sessions.Inc()
	srv.hub.add(s)
	if !srv.track(conn.ReadLoop) {
		// Upgraded just as the server stopped: the read loop never runs, so clean up here.
		_ = conn.WriteClose(uint16(protocol.CloseShutdown), []byte("server shutting down"))
		srv.hub.remove(s)
		srv.conns.release(s.user, s.ip)
		srv.metrics.sessions.Dec()
	}
}

var errUnauthorized = errors.New("unauthorized")

var connCapMessage = map[string]string{
	"cap":      "too many connections on this server",
	"cap_user": "too many connections for this user",
	"cap_ip":   "too many connections from this address",
}

// refuseToken refuses a WebSocket whose session token is missing or invalid. A browser sees
// nothing of an HTTP answer to a failed upgrade (only close code 1006, which reads as "network
// trouble, reconnect"), so a proper WebSocket request offering our subprotocol is upgraded and
// closed at once with the terminal code 4100 AUTH and the reason: the client knows to get a new
// token instead of reconnecting forever (e.g. after a restart with another secret). Anything
// else gets the JSON 401.
func (srv *Server) refuseToken(w http.ResponseWriter, r *http.Request, err error, msg string) {
	srv.metrics.rejected.WithLabelValues("auth").Inc()
	if !offersSubprotocol(r) || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		code := codeOf(err)
		if errors.Is(err, errUnauthorized) {
			code = protocol.ErrCodeUnauthorized
		}
		writeError(w, code, msg)
		return
	}
	conn, uerr := srv.upgrader.Upgrade(w, r)
	if uerr != nil {
		return // gws answered the bad upgrade itself
	}
	if len(msg) > 123 { // a close frame's reason is at most 123 bytes
		msg = msg[:123]
	}
	_ = conn.WriteClose(uint16(protocol.CloseAuth), []byte(msg)) // also closes the connection
}

func (srv *Server) reject(w http.ResponseWriter, reason string, err error, msg string) {
	srv.metrics.rejected.WithLabelValues(reason).Inc()
	code := codeOf(err)
	if errors.Is(err, errUnauthorized) {
		code = protocol.ErrCodeUnauthorized
	}
	writeError(w, code, msg)
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func offersSubprotocol(r *http.Request) bool {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if strings.TrimSpace(p) == protocol.Subprotocol {
				return true
			}
		}
	}
	return false
}

// originAllowed: no Origin (not a browser) is allowed; otherwise the allow-list, which by
// default is the origin of the configured PublicURL plus loopback pages (http://localhost:…,
// http://127.0.0.1:…, http://[::1]:…). The request's Host is never trusted for this: with DNS
// rebinding an attacker's page has Host = Origin = its own name while reaching this server.
func (srv *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	for _, o := range srv.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	if len(srv.cfg.AllowedOrigins) > 0 {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if own := publicOrigin(srv.cfg.PublicURL); own != "" && strings.EqualFold(own, u.Scheme+"://"+u.Host) {
		return true
	}
	return isLoopbackHost(u.Hostname())
}

// publicOrigin is the browser origin of a public URL: ws→http, wss→https, without the path.
func publicOrigin(public string) string {
	u, err := url.Parse(public)
	if err != nil || u.Host == "" {
		return ""
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	return u.Scheme + "://" + u.Host
}

// isLoopbackHost: localhost (and *.localhost, RFC 6761), 127.0.0.0/8 and ::1.
func isLoopbackHost(h string) bool {
	h = strings.ToLower(h)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// wsHandler receives gws events; the session is in the connection's storage.
type wsHandler struct{ srv *Server }

func sessionOf(c *gws.Conn) *session {
	v, _ := c.Session().Load("s")
	s, _ := v.(*session)
	return s
}

func (h *wsHandler) OnOpen(c *gws.Conn) {
	s := sessionOf(c)
	// net/http's deadlines from before the hijack must not apply to the WebSocket.
	_ = c.NetConn().SetDeadline(time.Time{})
	s.touch()
	s.idle = time.AfterFunc(h.srv.cfg.IdleTimeout, func() {
		s.mu.Lock()
		joined := s.joined
		s.mu.Unlock()
		switch {
		case joined:
		case h.srv.heldIdle(s.user): // waiting in matchmaking: look again later
			s.idle.Reset(h.srv.cfg.IdleTimeout)
		default:
			s.close(protocol.CloseIdle, "no match joined")
		}
	})
	s.srv.pinger.add(s) // pinged every PingInterval by the server's ping wheel (pinger.go)
	s.sendWelcome()
	s.log.Debug("session opened", "session", s.sessionID(), "remote", c.RemoteAddr().String())
}

func (h *wsHandler) OnClose(c *gws.Conn, err error) {
	if s := sessionOf(c); s != nil {
		s.closed()
	}
}

func (h *wsHandler) OnPing(c *gws.Conn, payload []byte) {
	s := sessionOf(c)
	s.touch()
	if !s.allow(1, 0, 0) { // pings are paid for like messages: a refused one gets no pong
		return
	}
	s.w.control(gws.OpcodePong, payload) // through the writer: one socket writer at a time
}

func (h *wsHandler) OnPong(c *gws.Conn, payload []byte) {
	sessionOf(c).pong()
}

func (h *wsHandler) OnMessage(c *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	s := sessionOf(c)
	s.touch()
	if msg.Opcode != gws.OpcodeBinary {
		s.close(protocol.CloseUnsupported, "binary frames only")
		return
	}
	s.handle(msg.Bytes())
}

// oneSession is gws session storage for exactly one value (saves a map per connection).
type oneSession struct{ v any }

func (o *oneSession) Len() int {
	if o.v == nil {
		return 0
	}
	return 1
}
func (o *oneSession) Load(string) (any, bool) { return o.v, o.v != nil }
func (o *oneSession) Delete(string)           { o.v = nil }
func (o *oneSession) Store(_ string, v any)   { o.v = v }
func (o *oneSession) Range(f func(string, any) bool) {
	if o.v != nil {
		f("s", o.v)
	}
}

type gwsLogger struct{ srv *Server }

func (l gwsLogger) Error(v ...any) { l.srv.log.Error("gws", "detail", v) }
