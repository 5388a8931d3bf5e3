package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"golang.org/x/time/rate"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server/auth"
)

// session is one WebSocket connection of an authenticated user, and the game.Sink through
// which its match reaches it.
//
// Goroutines: the connection's gws read loop calls handle (one message at a time, never in
// parallel); match goroutines call Deliver and Detached; the writer goroutine writes. mu guards
// the fields marked below; lock order: hub.mu before session.mu, never the reverse.
type session struct {
	srv     *Server
	conn    *gws.Conn
	w       *writer
	user    string
	ip      string // the client IP's key (ipKey), for the per-IP connection cap
	name    string
	limiter *rate.Limiter
	log     *slog.Logger

	// read-loop only
	dec       protocol.ClientMsg
	badFrames int
	floodFrom time.Time
	floodN    int
	warned    bool
	idle      *time.Timer
	pingSlot  int   // the ping wheel's bucket holding this session (-1: none); guarded by srv.pinger.mu
	touched   int64 // unix nanos of the last read-deadline push
	// tick is the connection's tick reader (tickread.go; nil: the read loop reads, as with TLS
	// or compression). While it is parked, the match goroutine owns the read-loop fields above.
	tick *tickReader
	// tickWant: the read loop handled an INPUT since its tick reader last parked. Only a player
	// sending inputs parks: one that only answers pings (a spectator seated as a member) would
	// otherwise park and be polled for nothing after every pong.
	tickWant bool

	pingAt atomic.Int64 // unix nanos the last server ping was queued (0: answered)
	rtt    atomic.Int64 // nanoseconds from that ping to its pong (ConnStats)

	mu          sync.Mutex
	id          string      // guarded by mu: changes when a RESUME adopts an older session
	resumeToken string      // guarded by mu
	match       MatchHandle // guarded by mu: nil when not in a match
	pid         uint32      // guarded by mu
	joined      bool        // guarded by mu: has ever joined (stops the idle timer)
	joining     bool        // guarded by mu: a JOIN is under way (answered asynchronously)
	gone        bool        // guarded by mu: the connection is closed (closed() ran)
	closing     bool        // guarded by mu
	syncOp      protocol.Op // guarded by mu: the last SYNC or RESUME sent to the match (its answer's refOp)
	syncReq     uint32      // guarded by mu: and its req
	closeCode   uint16      // guarded by mu
	// moved is the seat of a match this instance handed to another one at a drain (guarded
	// by mu): the copy's END MOVED detaches the session, possibly before its close parks it,
	// but a RESUME on the new owner must still find the seat (takeSession hands it over).
	moved SessionSeat
}

// Deliver implements game.Sink.
func (s *session) Deliver(shared, tail []byte) {
	if s.w.enqueue(shared, tail) {
		s.srv.metrics.framesOut.Inc()
	}
}

// DeliverQueued implements game.QueuedSink: the frame goes to the writer's queue (never written
// on the caller's goroutine), for recipients past a large match's inline budget.
func (s *session) DeliverQueued(shared, tail []byte) {
	if s.w.enqueueQueued(shared, tail) {
		s.srv.metrics.framesOut.Inc()
	}
}

// Detached implements game.Sink: the match removed this session's seat.
func (s *session) Detached(matchID string, pid uint32, reason protocol.LeaveReason) {
	s.mu.Lock()
	mine := s.match != nil && s.match.ID() == matchID && s.pid == pid
	if mine {
		s.match, s.pid = nil, 0
	}
	syncOp, syncReq := s.syncOp, s.syncReq
	s.mu.Unlock()
	if mine {
		s.tickRelease() // the match no longer reads this socket (tickread.go)
	}
	switch {
	case mine && reason == protocol.LeaveKicked:
		s.send(noticeFrame(protocol.CloseKicked, "removed from the match"))
	case mine && reason == protocol.LeaveReplaced:
		s.send(noticeFrame(protocol.CloseReplaced, "your seat was taken by another connection of yours"))
	case mine && reason == protocol.LeaveTimeout:
		// Only a SYNC or RESUME that found the seat gone is detached with a timeout (a seat
		// times out while nobody holds it): that request gets its answer.
		s.sendError(protocol.ErrCodeNotInMatch, "your seat is gone: it was not reclaimed within the match's reconnect grace", syncOp, syncReq)
	}
}

// syncMatch asks match to bring pid up to date, answering op/req; a match that has ended is
// answered at once and forgotten.
func (s *session) syncMatch(ctx context.Context, match MatchHandle, pid uint32, op protocol.Op, req, epoch, tick uint32) {
	s.mu.Lock()
	s.syncOp, s.syncReq = op, req
	s.mu.Unlock()
	err := match.Sync(ctx, pid, s, req, epoch, tick)
	if err == nil {
		return
	}
	if errors.Is(err, game.ErrMatchEnded) {
		s.mu.Lock()
		if s.match == match {
			s.match, s.pid = nil, 0
		}
		s.mu.Unlock()
		s.tickRelease()
	}
	s.fail(err, op, req)
}

func noticeFrame(code protocol.CloseCode, text string) []byte {
	data := protocol.AppendArrayHeader(nil, 2)
	data = protocol.AppendUint(data, uint64(code))
	data = protocol.AppendString(data, text)
	return protocol.AppendServer(nil, &protocol.ServerMsg{Op: protocol.OpEvent, Kind: protocol.EventNotice, Data: data})
}

func (s *session) send(frame []byte) { s.w.enqueue(frame, nil) }

func (s *session) sendError(code protocol.ErrorCode, msg string, refOp protocol.Op, refID uint32) {
	s.send(protocol.ErrorFrame(code, msg, refOp, refID))
}

func (s *session) fail(err error, refOp protocol.Op, refID uint32) {
	s.sendError(codeOf(err), err.Error(), refOp, refID)
}

// close ends the connection with code after the frames already queued.
func (s *session) close(code protocol.CloseCode, reason string) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing, s.closeCode = true, uint16(code)
	s.mu.Unlock()
	s.w.enqueueClose(uint16(code), reason)
}

// closeSlow is the writer's onSlow: the client is not reading. Frames still queued are
// dropped; the close frame is attempted with a short deadline (a client that does not read may
// never see it), then the socket is closed.
func (s *session) closeSlow() {
	s.mu.Lock()
	s.closing, s.closeCode = true, uint16(protocol.CloseSlow)
	s.mu.Unlock()
	s.srv.metrics.slowCloses.Inc()
	s.log.Info("closing slow client", "session", s.sessionID())
	go func() {
		_ = s.conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		_ = s.conn.WriteClose(uint16(protocol.CloseSlow), []byte("slow"))
	}()
}

func (s *session) sessionID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

func (s *session) current() (MatchHandle, uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.match, s.pid
}

// touch pushes the read deadline forward (called on every frame, ping and pong, on the read
// loop). Moving a deadline costs a runtime timer update, so it is pushed at most once per
// twentieth of the timeout: the connection is still closed within 105% of ReadTimeout of silence.
func (s *session) touch() {
	now := time.Now()
	if now.UnixNano()-s.touched < int64(s.srv.cfg.ReadTimeout/20) {
		return
	}
	s.touched = now.UnixNano()
	_ = s.conn.SetReadDeadline(now.Add(s.srv.cfg.ReadTimeout))
}

// handle processes one inbound binary frame on the read loop.
func (s *session) handle(frame []byte) {
	m := &s.dec
	if err := protocol.DecodeClient(frame, m); err != nil {
		s.srv.metrics.badFrames.Inc()
		s.badFrames++
		op, ref := protocol.PeekRef(frame)
		s.fail(err, op, ref)
		if s.badFrames >= s.srv.cfg.BadFrameClose {
			s.close(protocol.CloseBadFrames, "too many bad frames")
		}
		return
	}
	ref := m.Req
	if m.Op == protocol.OpInput {
		ref = m.Seq
	}
	if !s.allow(s.opCost(m), m.Op, ref) {
		return
	}
	switch m.Op {
	case protocol.OpInput:
		match, pid := s.current()
		if match == nil {
			s.sendError(protocol.ErrCodeNotInMatch, "join a match first", m.Op, m.Seq)
			return
		}
		s.input(match, pid, m)
		s.tickWant = true
	case protocol.OpMessage:
		match, pid := s.current()
		if match == nil {
			s.sendError(protocol.ErrCodeNotInMatch, "join a match first", m.Op, 0)
			return
		}
		if err := protocol.CheckPayload(m.Payload); err != nil {
			// Relayed inside the recipients' DELTA it would sit deeper than their decoders
			// allow, and they would lose that whole frame.
			s.srv.metrics.payloadsRefused.Inc()
			s.fail(fmt.Errorf("%w: %w", game.ErrPayloadTooDeep, err), m.Op, 0)
			return
		}
		if err := match.Message(bg, pid, m.To, m.Echo, m.Payload); err != nil {
			s.srv.metrics.messagesRefused.Inc()
			if errors.Is(err, ErrDropped) {
				s.sendError(protocol.ErrCodeRateLimited, "the match's relay budget for this tick is used up (or your share of it): send again next tick", m.Op, 0)
			} else {
				s.fail(err, m.Op, 0)
			}
		}
	case protocol.OpPing:
		s.send(protocol.AppendServer(nil, &protocol.ServerMsg{Op: protocol.OpPong, T: m.T, ServerTime: time.Now().UnixMilli()}))
	case protocol.OpJoin:
		s.join(m)
	case protocol.OpLeave:
		match, pid := s.current()
		if match == nil {
			s.sendError(protocol.ErrCodeNotInMatch, "not in a match", m.Op, m.Req)
			return
		}
		s.mu.Lock()
		s.match, s.pid = nil, 0
		s.mu.Unlock()
		_ = match.Leave(bg, pid, s, protocol.LeaveLeft)
		s.send(protocol.AppendServer(nil, &protocol.ServerMsg{Op: protocol.OpLeft, Req: m.Req}))
	case protocol.OpSync:
		match, pid := s.current()
		if match == nil {
			s.sendError(protocol.ErrCodeNotInMatch, "not in a match", m.Op, m.Req)
			return
		}
		s.syncMatch(bg, match, pid, m.Op, m.Req, m.Epoch, m.Tick)
	case protocol.OpResume:
		s.resume(m)
	case protocol.OpHello:
		s.hello(m)
	}
}

// input queues an INPUT (from the read loop, or from the tick reader on the match goroutine).
func (s *session) input(match MatchHandle, pid uint32, m *protocol.ClientMsg) {
	if match.Input(bg, pid, m.Seq, m.Seen, m.Payload) != nil {
		s.srv.metrics.inputsDropped.Inc()
	}
}

// bg is the context of calls that never wait (inputs, leaves, syncs: a bus queues them).
var bg = context.Background()

// join starts a JOIN and returns at once: the read loop never waits on a match (which may run
// on another instance). The rest runs in a goroutine counted by the server; the seat is
// recorded by the match's answer, which arrives before the JOINED frame, so an INPUT sent
// after JOINED always finds the session in its match.
func (s *session) join(m *protocol.ClientMsg) {
	s.mu.Lock()
	busy := s.match != nil || s.joining
	if !busy {
		s.joining = true
	}
	s.mu.Unlock()
	if busy {
		s.fail(errAlreadyJoined, m.Op, m.Req)
		return
	}
	// The decoder reuses its buffers: keep copies.
	matchID, ticket, req := m.Match, m.Ticket, m.Req
	meta := append([]byte(nil), m.Meta...)
	if !s.srv.track(func() { s.joinAsync(matchID, ticket, meta, req) }) {
		s.joinDone()
		s.fail(errDraining, protocol.OpJoin, req)
	}
}

func (s *session) joinDone() {
	s.mu.Lock()
	s.joining = false
	s.mu.Unlock()
}

func (s *session) joinAsync(matchID, ticket string, meta []byte, req uint32) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	fail := func(err error) {
		cancel()
		s.joinDone()
		if errors.Is(err, context.DeadlineExceeded) {
			err = errTimeout
		}
		s.fail(err, protocol.OpJoin, req)
	}
	if ticket != "" {
		// Another player's ticket, or one for another match than the JOIN names, is refused
		// without being used up: its owner can still join with it.
		t, err := s.srv.res.Redeem(ctx, ticket, s.user, matchID)
		if err != nil {
			s.srv.metrics.authFailures.Inc()
			if errors.Is(err, auth.ErrWrongMatch) {
				err = errors.Join(errForbidden, errors.New("the ticket is for another match"))
			}
			fail(err)
			return
		}
		matchID = t.MatchID
	}
	if matchID == "" {
		fail(errors.Join(errBadRequest, errors.New("JOIN needs a match id or a ticket")))
		return
	}
	match, err := s.srv.locate(ctx, matchID)
	if err != nil {
		fail(err)
		return
	}
	if ticket == "" {
		info, err := match.Info(ctx)
		if err != nil {
			fail(err)
			return
		}
		// A user who holds a seat (dropped or not) takes it back by id: after a failed RESUME
		// (the instance that had the session is gone) a client follows its match this way.
		if info.Private && !holdsSeat(info, s.user) {
			fail(errors.Join(errForbidden, errors.New("a private match needs a ticket")))
			return
		}
	}
	err = match.Join(ctx, JoinRequest{UserID: s.user, Name: s.name, Meta: meta, Sink: s, Req: req}, func(pid uint32, err error) {
		if err != nil {
			fail(err)
			return
		}
		cancel()
		s.mu.Lock()
		s.joining = false
		gone := s.gone
		if !gone {
			s.match, s.pid, s.joined = match, pid, true
		}
		s.mu.Unlock()
		if gone { // the connection closed while the join was under way: give the seat back
			_ = match.Leave(bg, pid, s, protocol.LeaveLeft)
			return
		}
		if s.idle != nil {
			s.idle.Stop()
		}
		s.srv.res.joined(s.user, match.ID()) // the seat is taken: no longer a live reservation
	})
	if err != nil {
		fail(err)
	}
}

// holdsSeat reports whether user is a member of the match (connected or dropped).
func holdsSeat(info game.Info, user string) bool {
	for _, m := range info.Members {
		if m.UserID == user {
			return true
		}
	}
	return false
}

// resume moves an earlier session (dropped, or still open on a half-dead connection) onto this
// connection: same session id, seat and match, a new resume token, then a catch-up.
func (s *session) resume(m *protocol.ClientMsg) {
	if cur, _ := s.current(); cur != nil {
		s.fail(errAlreadyJoined, m.Op, m.Req)
		return
	}
	old := s.srv.hub.take(m.Session, m.ResumeToken, s.user)
	if old == nil {
		if _, single := s.srv.bus.(*memoryBus); single { // no other instance could have it
			s.log.Info("resume refused", "session", m.Session, "reason", protocol.ErrCodeResumeFailed.String())
			s.srv.metrics.ops.resumes.WithLabelValues("refused").Inc()
			s.fail(errResume, m.Op, m.Req)
			return
		}
		s.resumeElsewhere(m)
		return
	}
	old.mu.Lock()
	match, pid := old.match, old.pid
	old.match, old.pid = nil, 0
	old.mu.Unlock()
	old.tickRelease()
	if old.conn != nil && old != s {
		old.close(protocol.CloseReplaced, "resumed elsewhere")
	}
	token := newToken()
	s.mu.Lock()
	oldID := s.id
	s.id, s.resumeToken = m.Session, token
	s.match, s.pid = match, pid
	if match != nil {
		s.joined = true
	}
	s.mu.Unlock()
	s.srv.hub.rename(oldID, s)
	s.send(protocol.AppendServer(nil, &protocol.ServerMsg{Op: protocol.OpResumed, Req: m.Req, Session: m.Session, ResumeToken: token}))
	matchID := ""
	if match != nil {
		matchID = match.ID()
	}
	s.log.Info("session resumed", "session", m.Session, "match", matchID, "pid", pid)
	s.srv.metrics.ops.resumes.WithLabelValues("resumed").Inc()
	if match != nil {
		if s.idle != nil {
			s.idle.Stop()
		}
		s.syncMatch(bg, match, pid, m.Op, m.Req, m.Epoch, m.Tick)
	}
}

// resumeElsewhere resumes a session this instance does not know: it may have been dropped
// from another instance of the cluster, which hands over its seat (the bus asks the others).
// That waits on other instances, so it runs off the read loop, like a JOIN.
func (s *session) resumeElsewhere(m *protocol.ClientMsg) {
	s.mu.Lock()
	busy := s.match != nil || s.joining
	if !busy {
		s.joining = true
	}
	s.mu.Unlock()
	if busy {
		s.fail(errAlreadyJoined, m.Op, m.Req)
		return
	}
	id, token, op, req, epoch, tick := m.Session, m.ResumeToken, m.Op, m.Req, m.Epoch, m.Tick
	refuse := func(why error) {
		s.joinDone()
		s.log.Info("resume refused", "session", id, "reason", protocol.ErrCodeResumeFailed.String(), "why", why)
		s.srv.metrics.ops.resumes.WithLabelValues("refused").Inc()
		s.fail(errResume, op, req)
	}
	if !s.srv.track(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		seat, err := s.srv.bus.TakeSession(ctx, id, token, s.user)
		if err != nil {
			refuse(err)
			return
		}
		var match MatchHandle
		if seat.MatchID != "" {
			if match, err = s.srv.bus.Locate(ctx, seat.MatchID); err != nil {
				refuse(err)
				return
			}
		}
		newTok := newToken()
		s.mu.Lock()
		oldID := s.id
		s.id, s.resumeToken, s.joining = id, newTok, false
		s.match, s.pid = match, seat.PID
		if match != nil {
			s.joined = true
		}
		s.mu.Unlock()
		s.srv.hub.rename(oldID, s)
		s.send(protocol.AppendServer(nil, &protocol.ServerMsg{Op: protocol.OpResumed, Req: req, Session: id, ResumeToken: newTok}))
		s.log.Info("session resumed from another instance", "session", id, "match", seat.MatchID, "pid", seat.PID)
		s.srv.metrics.ops.resumes.WithLabelValues("resumed").Inc()
		if match != nil {
			if s.idle != nil {
				s.idle.Stop()
			}
			s.syncMatch(bg, match, seat.PID, op, req, epoch, tick)
		}
	}) {
		refuse(errDraining)
	}
}

// takeSession hands a parked (or half-dead) session of this instance to another instance
// where its client resumes: it returns the session's seat and forgets the session here.
func (srv *Server) takeSession(id, token, user string) (SessionSeat, bool) {
	old := srv.hub.take(id, token, user)
	if old == nil {
		return SessionSeat{}, false
	}
	old.mu.Lock()
	seat := SessionSeat{PID: old.pid}
	if old.match != nil {
		seat.MatchID = old.match.ID()
	} else if old.moved.MatchID != "" {
		seat = old.moved // its match was handed over here at a drain: the seat is there
	}
	old.match, old.pid = nil, 0
	old.mu.Unlock()
	old.tickRelease()
	if old.conn != nil {
		old.close(protocol.CloseReplaced, "resumed on another instance")
	}
	srv.hub.remove(old)
	return seat, true
}

// hello refreshes the connection's session token (long sessions outlive tokens) and answers
// with a WELCOME.
func (s *session) hello(m *protocol.ClientMsg) {
	if m.Token != "" {
		t, err := s.srv.auth.VerifySession(m.Token)
		if err != nil {
			s.srv.metrics.authFailures.Inc()
			s.fail(err, m.Op, m.Req)
			return
		}
		if t.PlayerID != s.user {
			s.fail(errors.Join(errForbidden, errors.New("the token is for another player")), m.Op, m.Req)
			return
		}
	}
	s.sendWelcome()
}

func (s *session) sendWelcome() {
	s.mu.Lock()
	id, tok := s.id, s.resumeToken
	s.mu.Unlock()
	s.send(protocol.AppendServer(nil, &protocol.ServerMsg{Op: protocol.OpWelcome, Session: id, ResumeToken: tok,
		User: s.user, ServerTime: time.Now().UnixMilli(), ResumeWindow: uint32(s.srv.cfg.ResumeWindow / time.Millisecond)}))
}

// closed runs once when the connection is gone (gws OnClose): the seat is dropped (kept for the
// match's reconnect grace, and the session for the resume window) unless the close was terminal.
func (s *session) closed() {
	s.w.shut()
	if s.idle != nil {
		s.idle.Stop()
	}
	s.srv.pinger.remove(s)
	s.mu.Lock()
	match, pid, code := s.match, s.pid, s.closeCode
	s.gone = true
	s.mu.Unlock()
	s.log.Debug("session closed", "session", s.sessionID(), "code", code, "close", protocol.CloseCode(code).String(), "in_match", match != nil)
	s.srv.conns.release(s.user, s.ip)
	s.srv.metrics.sessions.Dec()
	if match == nil {
		s.mu.Lock()
		moved := s.moved.MatchID != ""
		s.mu.Unlock()
		if moved {
			s.srv.hub.park(s) // for the RESUME on the match's new owner (takeSession)
		} else {
			s.srv.hub.remove(s)
		}
		return
	}
	if code != 0 && !protocol.Reconnectable(protocol.CloseCode(code)) {
		_ = match.Leave(bg, pid, s, protocol.LeaveLeft)
		s.mu.Lock()
		s.match, s.pid = nil, 0
		s.mu.Unlock()
		s.srv.hub.remove(s)
		return
	}
	_ = match.Leave(bg, pid, s, protocol.LeaveDropped)
	s.srv.hub.park(s)
}

// tokensEqual compares secrets in constant time.
func tokensEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
