// Package floor is the transport floor: a minimal gws server with arena's connection and message
// pattern and none of its work. Clients connect to /ws (subprotocol tickrelay.v1, any token), get
// a WELCOME, JOIN a match by id and send INPUTs; each match ticks every 50 ms (tickers staggered
// across matches) and sends every member one frame the size of an arena DELTA for the players
// whose input arrived since the last tick (pre-encoded shared bytes, ~14 bytes per player)
// followed by the member's own tail, which carries its last input seq as ack. Reading that seq
// (a tiny hand parser) is the only per-member work; there is no game logic and no msgpack
// library.
//
// It also serves the little HTTP the load generator uses against the real server (/healthz,
// POST /v1/auth/guest, POST /v1/matches, GET /v1/matches/{id}, /metrics with go_goroutines and a
// tick-duration histogram), so one load generator drives both.
//
// Writes are synchronous from the match's tick goroutine (conn.Writev with a write deadline),
// so a connection's pending output is bounded by its socket buffer: no unbounded queues.
package floor

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/tickrelay/tickrelay/protocol"
)

// Subprotocol is the WebSocket subprotocol clients must offer (protocol.Subprotocol).
const Subprotocol = "tickrelay.v1"

// Codes come from protocol's one table. The floor uses protocol only for its code constants and
// byte-append helpers: nothing of it runs per message but plain appends.
const (
	opJoin   = byte(protocol.OpJoin)
	opInput  = byte(protocol.OpInput)
	opPing   = byte(protocol.OpPing)
	opJoined = byte(protocol.OpJoined)
	opDelta  = byte(protocol.OpDelta)
	opPong   = byte(protocol.OpPong)
	opError  = byte(protocol.OpError)

	errNotFound      = protocol.ErrCodeNotFound
	errMatchFull     = protocol.ErrCodeMatchFull
	errAlreadyJoined = protocol.ErrCodeAlreadyJoined
	errMalformed     = protocol.ErrCodeMalformed
)

// Config tunes the floor.
type Config struct {
	Tick         time.Duration // tick interval (50 ms)
	WriteTimeout time.Duration // a write blocked this long closes the connection (2 s)
	ReadLimit    int           // largest frame accepted (16 KiB)
	Game         string        // game name put in JOINED ("arena")
}

func (c *Config) defaults() {
	if c.Tick <= 0 {
		c.Tick = 50 * time.Millisecond
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 2 * time.Second
	}
	if c.ReadLimit <= 0 {
		c.ReadLimit = 16 * 1024
	}
	if c.Game == "" {
		c.Game = "arena"
	}
}

// Server is the floor. Create it with New, serve Handler, stop it with Close.
type Server struct {
	cfg   Config
	up    *gws.Upgrader
	start time.Time

	mu      sync.Mutex
	matches map[string]*match
	nmatch  int // matches ever created: the stagger index
	closed  bool

	guests atomic.Uint64
	ids    atomic.Uint64
	conns  atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup

	welcome []byte
	ticks   tickHist
}

// New returns a floor server.
func New(cfg Config) *Server {
	cfg.defaults()
	s := &Server{cfg: cfg, start: time.Now(), matches: map[string]*match{}, stop: make(chan struct{})}
	s.up = gws.NewUpgrader(s, &gws.ServerOption{
		ParallelEnabled:    false,
		ReadMaxPayloadSize: cfg.ReadLimit,
		SubProtocols:       []string{Subprotocol},
		HandshakeTimeout:   5 * time.Second,
		NewSession:         func() gws.SessionStorage { return &session{} },
	})
	s.welcome = welcomeFrame()
	return s
}

// welcomeFrame is WELCOME [32, session, resumeToken, user, serverTime, resumeWindow],
// pre-encoded once: the floors have no sessions to resume.
func welcomeFrame() []byte {
	w := []byte{0x96, 32}
	w = protocol.AppendString(w, "floor-session")
	w = protocol.AppendString(w, "floor-resume")
	w = protocol.AppendString(w, "floor-user")
	w = protocol.AppendUint(w, uint64(time.Now().UnixMilli()))
	return protocol.AppendUint(w, 0)
}

// Handler serves the floor's HTTP and WebSocket endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /v1/auth/guest", s.handleGuest)
	mux.HandleFunc("POST /v1/matches", s.handleCreate)
	mux.HandleFunc("GET /v1/matches/{id}", s.handleGet)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("GET /ws", s.handleWS)
	return mux
}

// Close stops every match ticker and closes every connection.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	ms := make([]*match, 0, len(s.matches))
	for _, m := range s.matches {
		ms = append(ms, m)
	}
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	for _, m := range ms {
		m.mu.Lock()
		members := append([]*session(nil), m.members...)
		m.mu.Unlock()
		for _, ss := range members {
			_ = ss.conn.WriteClose(4000, nil)
		}
	}
}

// Conns is the number of open WebSocket connections.
func (s *Server) Conns() int64 { return s.conns.Load() }

// ---- HTTP ----

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) handleGuest(w http.ResponseWriter, r *http.Request) {
	n := s.guests.Add(1)
	id := "guest-" + strconv.FormatUint(n, 10)
	writeJSON(w, http.StatusOK, map[string]any{
		"token":      "floor-token-" + strconv.FormatUint(n, 10),
		"player_id":  id,
		"name":       id,
		"expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
	})
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Game       string `json:"game"`
		MaxPlayers int    `json:"max_players"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16*1024)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError(1, "BAD_REQUEST", err.Error()))
		return
	}
	id := "f-" + strconv.FormatUint(s.ids.Add(1), 10)
	m, err := s.matchFor(id, req.MaxPlayers, true)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError(15, "UNAVAILABLE", err.Error()))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"match": m.object(),
		"reservation": map[string]any{
			"match_id":   id,
			"address":    "ws://" + r.Host + "/ws",
			"ticket":     "", // the floor has no tickets: join by id
			"expires_at": time.Now().Add(30 * time.Second).UTC().Format(time.RFC3339),
		},
	})
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m := s.matches[r.PathValue("id")]
	s.mu.Unlock()
	if m == nil {
		writeJSON(w, http.StatusNotFound, apiError(4, "NOT_FOUND", "no match "+r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, m.object())
}

func apiError(code int, name, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "name": name, "message": msg}}
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	var b strings.Builder
	fmt.Fprintf(&b, "# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
	fmt.Fprintf(&b, "# TYPE floor_connections gauge\nfloor_connections %d\n", s.conns.Load())
	s.mu.Lock()
	fmt.Fprintf(&b, "# TYPE floor_matches gauge\nfloor_matches %d\n", len(s.matches))
	s.mu.Unlock()
	s.ticks.write(&b, "tickrelay_tick_duration_seconds")
	_, _ = w.Write([]byte(b.String()))
}

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	conn, err := s.up.Upgrade(w, r)
	if err != nil {
		return // gws has answered the request
	}
	go conn.ReadLoop()
}

// ---- WebSocket events ----

// session is a connection's state. It is the connection's gws SessionStorage, so getting it
// back from the *gws.Conn is a type assertion, not a map lookup.
type session struct {
	conn *gws.Conn
	m    *match // set by JOIN, read by the same connection's read goroutine
	pid  uint32

	lastSeq atomic.Uint32 // the last INPUT seq received

	// owned by the match's tick goroutine (set up under m.mu at join)
	ackSent  uint32
	pending  uint32
	deadline time.Time // when to push the write deadline forward again
}

// SessionStorage: the floor stores nothing in it.
func (*session) Len() int                           { return 0 }
func (*session) Load(string) (any, bool)            { return nil, false }
func (*session) Delete(string)                      {}
func (*session) Store(string, any)                  {}
func (*session) Range(func(key string, v any) bool) {}

func sess(c *gws.Conn) *session { return c.Session().(*session) }

// OnOpen sends the pre-encoded WELCOME.
func (s *Server) OnOpen(c *gws.Conn) {
	ss := sess(c)
	ss.conn = c
	s.conns.Add(1)
	_ = c.WriteMessage(gws.OpcodeBinary, s.welcome)
}

// OnClose removes the connection from its match.
func (s *Server) OnClose(c *gws.Conn, err error) {
	s.conns.Add(-1)
	ss := sess(c)
	if ss.m != nil {
		ss.m.leave(ss)
	}
}

// OnPing answers with a pong.
func (s *Server) OnPing(c *gws.Conn, payload []byte) { _ = c.WritePong(payload) }

// OnPong ignores pongs.
func (s *Server) OnPong(*gws.Conn, []byte) {}

// OnMessage handles INPUT (record the seq), JOIN and PING; everything else is ignored.
func (s *Server) OnMessage(c *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	b := msg.Bytes()
	if len(b) < 3 || b[0]&0xf0 != 0x90 {
		return
	}
	switch b[1] {
	case opInput: // [4, seq, seen, payload]
		if seq, _, ok := readUint(b, 2); ok {
			sess(c).lastSeq.Store(uint32(seq))
		}
	case opJoin: // [2, req, match, ticket, meta]
		req, i, ok := readUint(b, 2)
		if !ok {
			return
		}
		id, _, ok := readStr(b, i)
		if !ok || id == "" {
			_ = c.WriteMessage(gws.OpcodeBinary, protocol.ErrorFrame(errMalformed, "join needs a match id", protocol.OpJoin, uint32(req)))
			return
		}
		s.join(c, uint32(req), id)
	case opPing: // [6, t] → [36, t, serverTime]
		if b[0] != 0x92 {
			return
		}
		out := append([]byte{0x93, opPong}, b[2:]...)
		out = protocol.AppendUint(out, uint64(time.Now().UnixMilli()))
		_ = c.WriteMessage(gws.OpcodeBinary, out)
	}
}

func (s *Server) join(c *gws.Conn, req uint32, id string) {
	ss := sess(c)
	if ss.m != nil {
		_ = c.WriteMessage(gws.OpcodeBinary, protocol.ErrorFrame(errAlreadyJoined, "already in a match", protocol.OpJoin, req))
		return
	}
	m, err := s.matchFor(id, 0, false)
	if err != nil {
		_ = c.WriteMessage(gws.OpcodeBinary, protocol.ErrorFrame(errNotFound, err.Error(), protocol.OpJoin, req))
		return
	}
	if !m.add(ss, req) {
		_ = c.WriteMessage(gws.OpcodeBinary, protocol.ErrorFrame(errMatchFull, "match full", protocol.OpJoin, req))
	}
}

// matchFor returns the match with this id, creating it (and starting its ticker) if it does not
// exist. The floor groups clients by whatever id they send.
func (s *Server) matchFor(id string, maxPlayers int, create bool) (*match, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("shutting down")
	}
	if m := s.matches[id]; m != nil {
		if create {
			m.maxPlayers = maxPlayers
		}
		return m, nil
	}
	if len(id) > 64 {
		return nil, fmt.Errorf("match id too long")
	}
	m := &match{s: s, id: id, maxPlayers: maxPlayers, created: time.Now()}
	// Stagger: match i's ticks are offset by frac(i × golden ratio) of the interval, which spreads
	// any number of matches evenly over the tick without knowing the number in advance.
	_, frac := math.Modf(float64(s.nmatch) * 0.6180339887498949)
	s.nmatch++
	m.offset = time.Duration(frac * float64(s.cfg.Tick))
	s.matches[id] = m
	s.wg.Add(1)
	go m.run()
	return m, nil
}

// ---- matches ----

type match struct {
	s          *Server
	id         string
	maxPlayers int
	created    time.Time
	offset     time.Duration

	mu       sync.Mutex
	members  []*session
	nextPID  uint32
	tick     uint32 // ticks run
	lastSent uint32 // tick of the last DELTA sent (the base of the next one)

	// owned by the tick goroutine
	snap []*session
	deltaParts
}

// deltaParts are the pre-encoded pieces of a tick's DELTA, shared by both floors: the head
// (op, epoch, tick, since), the body (changes for k players, events) and a member's tail.
type deltaParts struct {
	head    []byte
	body    []byte // pre-encoded changes+events for bodyK players
	bodyK   int
	entries []byte // pre-encoded updated-map entries for players 1..entriesK
	offsets []int  // offsets[k] = len of the first k entries
	tail    []byte
}

func (m *match) object() map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	members := make([]map[string]any, 0, len(m.members))
	for _, ss := range m.members {
		members = append(members, map[string]any{"pid": ss.pid, "player_id": "guest", "name": "guest", "connected": true})
	}
	return map[string]any{
		"id": m.id, "game": m.s.cfg.Game, "label": map[string]string{}, "private": false,
		"players": len(m.members), "max_players": m.maxPlayers, "tick": m.tick,
		"tick_rate": int(time.Second / m.s.cfg.Tick), "epoch": 1, "owner": "floor",
		"created_at": m.created.UTC().Format(time.RFC3339), "members": members,
	}
}

// add seats ss and sends its JOINED. JOINED is written under the match lock so that no DELTA can
// reach the client before it, and its tick is the base of the next DELTA the member gets.
func (m *match) add(ss *session, req uint32) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.maxPlayers > 0 && len(m.members) >= m.maxPlayers {
		return false
	}
	m.nextPID++
	ss.pid = m.nextPID
	ss.m = m
	ss.ackSent = ss.lastSeq.Load()
	m.members = append(m.members, ss)
	_ = ss.conn.WriteMessage(gws.OpcodeBinary, m.joinedFrame(req, ss.pid))
	return true
}

// joinedFrame: [33, req, match, game, pid, epoch, tick, tickRate, state, nil, members, schema].
// state holds every member's x, y; members every member as [user, name, true].
func (m *match) joinedFrame(req, pid uint32) []byte {
	pids := make([]uint32, len(m.members))
	for i, ss := range m.members {
		pids[i] = ss.pid
	}
	return joinedFrame(m.id, m.s.cfg.Game, req, pid, m.lastSent, uint32(time.Second/m.s.cfg.Tick), pids)
}

// joinedFrame encodes a JOINED for the member pid of a match whose members are pids.
func joinedFrame(id, game string, req, pid, lastSent, tickRate uint32, pids []uint32) []byte {
	b := []byte{0x9c, opJoined}
	b = protocol.AppendUint(b, uint64(req))
	b = protocol.AppendString(b, id)
	b = protocol.AppendString(b, game)
	b = protocol.AppendUint(b, uint64(pid))
	b = protocol.AppendUint(b, 1)
	b = protocol.AppendUint(b, uint64(lastSent))
	b = protocol.AppendUint(b, uint64(tickRate))
	b = protocol.AppendMapHeader(b, len(pids))
	for _, p := range pids {
		b = appendEntry(b, p)
	}
	b = append(b, 0xc0) // private
	b = protocol.AppendMapHeader(b, len(pids))
	for _, p := range pids {
		b = protocol.AppendUint(b, uint64(p))
		b = append(b, 0x93)
		b = protocol.AppendString(b, "guest")
		b = protocol.AppendString(b, "guest")
		b = append(b, 0xc3)
	}
	b = append(b, 0x92) // schema ["x", "y"]
	b = protocol.AppendString(b, "x")
	return protocol.AppendString(b, "y")
}

func (m *match) leave(ss *session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.members {
		if x == ss {
			m.members = append(m.members[:i], m.members[i+1:]...)
			break
		}
	}
}

func (m *match) run() {
	defer m.s.wg.Done()
	tick := m.s.cfg.Tick
	// first tick at the next instant ≡ offset (mod tick) since the server started
	since := time.Since(m.s.start)
	next := since - since%tick + m.offset
	if next <= since {
		next += tick
	}
	select {
	case <-time.After(next - since):
	case <-m.s.stop:
		return
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		m.tickOnce()
		select {
		case <-t.C:
		case <-m.s.stop:
			return
		}
	}
}

// tickOnce sends this tick's frame to every member, if any member's input arrived since the last
// tick (like arena, which sends a DELTA only when something changed).
func (m *match) tickOnce() {
	start := time.Now()
	m.mu.Lock()
	m.tick++
	m.snap = append(m.snap[:0], m.members...)
	k := 0
	for _, ss := range m.snap {
		ss.pending = ss.lastSeq.Load()
		if ss.pending != ss.ackSent {
			k++
		}
	}
	var since uint32
	if k > 0 {
		since = m.tick - m.lastSent
		m.lastSent = m.tick
	}
	m.mu.Unlock()
	if k == 0 {
		m.s.ticks.observe(time.Since(start))
		return
	}

	// shared part: [34, epoch, tick, since, changes, events, ...
	m.head = append(m.head[:0], 0x99, opDelta, 1)
	m.head = protocol.AppendUint(m.head, uint64(m.tick))
	m.head = protocol.AppendUint(m.head, uint64(since))
	if k != m.bodyK {
		m.buildBody(k)
	}
	for _, ss := range m.snap {
		// tail: ack (the member's last seq, nil if unchanged), private nil, direct nil
		m.tail = m.tail[:0]
		if ss.pending != ss.ackSent {
			m.tail = protocol.AppendUint(m.tail, uint64(ss.pending))
			ss.ackSent = ss.pending
		} else {
			m.tail = append(m.tail, 0xc0)
		}
		m.tail = append(m.tail, 0xc0, 0xc0)
		if start.After(ss.deadline) {
			// push the write deadline forward once a second, not on every write
			_ = ss.conn.SetWriteDeadline(start.Add(m.s.cfg.WriteTimeout))
			ss.deadline = start.Add(m.s.cfg.WriteTimeout / 2)
		}
		_ = ss.conn.Writev(gws.OpcodeBinary, m.head, m.body, m.tail) // an error closes the conn
	}
	m.s.ticks.observe(time.Since(start))
}

// buildBody pre-encodes changes [nil, {pid: {0: x, 1: y}} for k players, nil] and events nil:
// the same bytes as arena's delta when k players moved.
func (m *deltaParts) buildBody(k int) {
	for len(m.offsets) <= k {
		n := len(m.offsets)
		if n == 0 {
			m.offsets = append(m.offsets, 0)
			continue
		}
		m.entries = appendEntry(m.entries, uint32(n))
		m.offsets = append(m.offsets, len(m.entries))
	}
	m.body = append(m.body[:0], 0x93, 0xc0)
	m.body = protocol.AppendMapHeader(m.body, k)
	m.body = append(m.body, m.entries[:m.offsets[k]]...)
	m.body = append(m.body, 0xc0, 0xc0) // removed nil; events nil
	m.bodyK = k
}

// appendEntry appends one entity's position: pid: {0: float32 x, 1: float32 y} (14 bytes for
// pids below 128).
func appendEntry(b []byte, pid uint32) []byte {
	b = protocol.AppendUint(b, uint64(pid))
	b = append(b, 0x82, 0x00)
	b = protocol.AppendFloat32(b, 100+float32(pid%800))
	b = append(b, 0x01)
	return protocol.AppendFloat32(b, 500.25)
}

// ---- tick-duration histogram (Prometheus) ----

var tickBounds = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25}

type tickHist struct {
	counts [len(tickBounds) + 1]atomic.Uint64
	sumNs  atomic.Uint64
}

func (h *tickHist) observe(d time.Duration) {
	sec := d.Seconds()
	i := 0
	for i < len(tickBounds) && sec > tickBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(d))
}

func (h *tickHist) write(b *strings.Builder, name string) {
	fmt.Fprintf(b, "# TYPE %s histogram\n", name)
	var cum uint64
	for i, le := range tickBounds {
		cum += h.counts[i].Load()
		fmt.Fprintf(b, "%s_bucket{le=\"%g\"} %d\n", name, le, cum)
	}
	cum += h.counts[len(tickBounds)].Load()
	fmt.Fprintf(b, "%s_bucket{le=\"+Inf\"} %d\n", name, cum)
	fmt.Fprintf(b, "%s_sum %g\n%s_count %d\n", name, float64(h.sumNs.Load())/1e9, name, cum)
}
