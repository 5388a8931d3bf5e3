package failover

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/lxzan/gws"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/protocol"
)

// BotConfig is how a bot plays and comes back.
type BotConfig struct {
	InputEvery  time.Duration // one arena input per this (default 50 ms: one per tick at 20 Hz)
	BackoffBase time.Duration // full-jitter base of reconnects and JOIN retries (default 2 s)
	BackoffCap  time.Duration // default 8 s
	JoinBase    time.Duration // full-jitter base of JOIN retries while the match is between owners (default 500 ms, like the SDK)
	JoinCap     time.Duration // default 2 s
	DialTimeout time.Duration // default 3 s
	GiveUpAfter time.Duration // stop following after this long without the match (default 30 s)
}

func (c *BotConfig) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.InputEvery, 50*time.Millisecond)
	def(&c.BackoffBase, 2*time.Second)
	def(&c.BackoffCap, 8*time.Second)
	def(&c.JoinBase, 500*time.Millisecond)
	def(&c.JoinCap, 2*time.Second)
	def(&c.DialTimeout, 3*time.Second)
	def(&c.GiveUpAfter, 30*time.Second)
}

// Outcome is where a bot stands.
type Outcome uint8

const (
	Playing Outcome = iota // in its match (its inputs are acked)
	Ended                  // the match ended (END, not MOVED)
	Lost                   // the seat is gone, or following gave up
)

func (o Outcome) String() string { return [...]string{"playing", "ended", "lost"}[o] }

// Bot is one player of an arena match that follows its match wherever it goes, the way the
// SDK does: on close 4003 MOVED to the URL of the reason, on 1006/4000/END MOVED with
// full-jitter backoff to another instance; there RESUME, and when that fails (or finds the
// session in no match) JOIN by id, which gives the seat back.
//
// One goroutine (Run) owns everything; the gws read loop only hands frames over. The fields
// under mu are the figures the scenario reads.
type Bot struct {
	ID    int
	Token string
	Match string
	Addrs []string // every instance (host:port)
	cfg   BotConfig

	in   chan event
	done chan struct{} // closed when Run returns

	// Run's goroutine only
	addr      string
	conn      *gws.Conn
	gen       int
	session   string
	resumeTok string
	fresh     protocol.ServerMsg // the WELCOME of the current connection
	mirror    game.Mirror
	seq       uint32
	phase     phase
	following bool // the seat must be taken back with JOIN by id
	attempt   int
	joinAtt   int
	lostSince time.Time
	checkReq  uint32

	mu      sync.Mutex
	sums    map[uint64]uint64 // (epoch<<32 | tick) → public checksum of the mirror at that tick
	sumKeys []uint64          // insertion order, for the bound
	snap    snapshotSum       // the server's state at one tick (the answer to the check's SYNC)
	markAt  time.Time
	markEp  uint32
	markTk  uint32 // frames of ticks after this one count (older ones may have been in flight)
	fig     BotFigures
	verify  chan bool
}

// BotFigures is what a bot measured. Times are wall clock.
type BotFigures struct {
	Outcome     Outcome
	Epoch       uint32 // of the state it has
	Tick        uint32
	LastAck     uint32
	Closes      map[uint16]int // close codes seen (1006: no close frame)
	Attempts    []time.Time    // every dial after a loss
	Disrupted   []time.Time    // when it lost its instance (close or END MOVED)
	EpochSeen   map[uint32]EpochMark
	MirrorCheck string // "equal", "differ", or "" (not checked)
	EndMoved    int    // END 6 MOVED received (a stale copy stopped)
	Stale       int    // DELTAs of the marked epoch received after the mark (see Mark)
	Err         string
	Last        string // the last step it took (for a bot without an outcome)
}

// EpochMark is what a bot saw of one epoch of its match: its first and last tick and ack, when
// it got the epoch's first state, and when an input it sent after that was acked (playing).
type EpochMark struct {
	FirstTick, LastTick uint32
	FirstAck, LastAck   uint32
	FirstAt, BackAt     time.Time
	wantSeq             uint32
}

// resumeAnswerWait is how long after RESUMED a bot waits for CATCHUP/JOINED before it JOINs by id.
const resumeAnswerWait = 1500 * time.Millisecond

type phase uint8

const (
	phDialing phase = iota
	phWelcome
	phResume
	phJoin
	phPlaying
	phDone
)

type event struct {
	at     time.Time
	gen    int
	rejoin bool // send the JOIN by id again
	frame  []byte
	closed bool
	code   uint16
	reason string
}

// NewBot returns a bot for match, playing with token, that may reach any of addrs; it first
// connects to addrs[first].
func NewBot(id int, token, match string, addrs []string, first int, cfg BotConfig) *Bot {
	cfg.defaults()
	return &Bot{ID: id, Token: token, Match: match, Addrs: addrs, addr: addrs[first], cfg: cfg,
		in: make(chan event, 256), done: make(chan struct{}), fig: BotFigures{Closes: map[uint16]int{}, EpochSeen: map[uint32]EpochMark{}}}
}

// Figures returns a copy of what the bot measured so far.
func (b *Bot) Figures() BotFigures {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.fig
	f.Closes = map[uint16]int{}
	for k, v := range b.fig.Closes {
		f.Closes[k] = v
	}
	f.EpochSeen = map[uint32]EpochMark{}
	for k, v := range b.fig.EpochSeen {
		f.EpochSeen[k] = v
	}
	f.Attempts = append([]time.Time(nil), b.fig.Attempts...)
	f.Disrupted = append([]time.Time(nil), b.fig.Disrupted...)
	return f
}

type snapshotSum struct {
	epoch, tick uint32
	sum         uint64
	ok          bool
}

// maxSums bounds the public checksums a bot keeps (20 s at 20 Hz).
const maxSums = 400

// GetSnapshot asks the server for a snapshot of the match (a SYNC from epoch 0 is answered with
// JOINED at the match's current tick): the server's state at that tick, which the other bots'
// mirrors must equal at the same tick (Snapshot, SumAt). The channel is closed when it came.
func (b *Bot) GetSnapshot() <-chan bool {
	ch := make(chan bool, 1)
	b.mu.Lock()
	b.verify, b.snap = ch, snapshotSum{}
	b.mu.Unlock()
	return ch
}

// Snapshot is the server's state the bot got for GetSnapshot.
func (b *Bot) Snapshot() (epoch, tick uint32, sum uint64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.snap.epoch, b.snap.tick, b.snap.sum, b.snap.ok
}

// SumAt is the public checksum of the bot's mirror at (epoch, tick), if it had that state.
func (b *Bot) SumAt(epoch, tick uint32) (uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.sums[uint64(epoch)<<32|uint64(tick)]
	return s, ok
}

// SetMirrorCheck records the verdict on the bot's mirror.
func (b *Bot) SetMirrorCheck(v string) {
	b.mu.Lock()
	b.fig.MirrorCheck = v
	b.mu.Unlock()
}

// remember records the mirror's public checksum at its tick (under b.mu).
func (b *Bot) remember() {
	if b.sums == nil {
		b.sums = map[uint64]uint64{}
	}
	k := uint64(b.mirror.Epoch)<<32 | uint64(b.mirror.Tick)
	if _, ok := b.sums[k]; !ok {
		b.sumKeys = append(b.sumKeys, k)
	}
	b.sums[k] = publicSum(&b.mirror)
	if len(b.sumKeys) > maxSums {
		delete(b.sums, b.sumKeys[0])
		b.sumKeys = b.sumKeys[1:]
	}
}

// Run plays until ctx ends (then closes its connection), following the match through faults.
func (b *Bot) Run(ctx context.Context) {
	defer close(b.done)
	input := time.NewTicker(b.cfg.InputEvery)
	defer input.Stop()
	var retry <-chan time.Time
	b.dial(ctx)
	for {
		if b.conn == nil && retry == nil && b.phase != phDone {
			retry = time.After(b.nextDelay())
		}
		select {
		case <-ctx.Done():
			b.drop(1000)
			return
		case <-retry:
			retry = nil
			b.dial(ctx)
		case ev := <-b.in:
			if ev.gen != b.gen {
				continue
			}
			if ev.rejoin {
				if b.phase == phJoin || b.phase == phResume {
					b.join()
				}
				continue
			}
			if ev.closed {
				b.onClose(ev.code, ev.reason)
				continue
			}
			b.onFrame(ev.frame, ev.at)
		case <-input.C:
			b.tick()
		}
	}
}

func (b *Bot) nextDelay() time.Duration {
	d := FullJitter(b.attempt, b.cfg.BackoffBase, b.cfg.BackoffCap)
	b.attempt++
	return d
}

// dial connects to b.addr (the gws handshake blocks this goroutine up to DialTimeout).
func (b *Bot) dial(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	if !b.lostSince.IsZero() {
		if time.Since(b.lostSince) > b.cfg.GiveUpAfter {
			b.finish(Lost, "gave up following the match")
			return
		}
		b.mu.Lock()
		b.fig.Attempts = append(b.fig.Attempts, time.Now())
		b.mu.Unlock()
	}
	b.gen++
	h := http.Header{}
	h.Set("Sec-WebSocket-Protocol", protocol.Subprotocol)
	conn, _, err := gws.NewClient(&botHandler{b: b, gen: b.gen}, &gws.ClientOption{
		Addr:               "ws://" + b.addr + "/ws?token=" + url.QueryEscape(b.Token),
		RequestHeader:      h,
		HandshakeTimeout:   b.cfg.DialTimeout,
		ReadMaxPayloadSize: 1 << 20,
	})
	if err != nil {
		b.note("dial failed: " + err.Error())
		b.addr = b.other()
		return // Run retries after the next delay
	}
	b.conn, b.phase = conn, phWelcome
	go conn.ReadLoop()
}

// other picks a random instance other than the current one.
func (b *Bot) other() string {
	if len(b.Addrs) < 2 {
		return b.addr
	}
	for {
		a := b.Addrs[rand.IntN(len(b.Addrs))]
		if a != b.addr {
			return a
		}
	}
}

// drop closes the connection on purpose; its close event is ignored.
func (b *Bot) drop(code uint16) {
	if b.conn != nil {
		_ = b.conn.WriteClose(code, nil)
		_ = b.conn.NetConn().Close()
	}
	b.conn = nil
	b.gen++
}

func (b *Bot) disrupted() {
	now := time.Now()
	if b.lostSince.IsZero() {
		b.lostSince = now
	}
	b.mu.Lock()
	b.fig.Disrupted = append(b.fig.Disrupted, now)
	b.mu.Unlock()
}

func (b *Bot) onClose(code uint16, reason string) {
	b.conn = nil
	b.note("closed " + protocol.CloseCode(code).String() + " " + reason)
	b.mu.Lock()
	b.fig.Closes[code]++
	b.mu.Unlock()
	if b.phase == phDone {
		return
	}
	if !protocol.Reconnectable(protocol.CloseCode(code)) {
		b.finish(Lost, "closed for good: "+protocol.CloseCode(code).String())
		return
	}
	b.disrupted()
	b.addr = b.other()
	if code == uint16(protocol.CloseMoved) {
		if a := MovedAddr(reason); a != "" {
			b.addr = a
		}
	}
}

// note records the step the bot is at.
func (b *Bot) note(what string) {
	b.mu.Lock()
	b.fig.Last = time.Now().Format("15:04:05.000") + " " + what + " @" + b.addr
	b.mu.Unlock()
}

func (b *Bot) send(m *protocol.ClientMsg) {
	if b.conn != nil {
		_ = b.conn.WriteMessage(gws.OpcodeBinary, protocol.AppendClient(nil, m))
	}
}

func (b *Bot) join() {
	b.note("JOIN")
	b.phase = phJoin
	b.send(&protocol.ClientMsg{Op: protocol.OpJoin, Req: 2, Match: b.Match})
}

func (b *Bot) tick() {
	if b.phase != phPlaying || b.conn == nil {
		return
	}
	b.seq++
	b.send(&protocol.ClientMsg{Op: protocol.OpInput, Seq: b.seq, Seen: b.mirror.Tick,
		Payload: arena.EncodeInput(nil, rand.Float64()*2-1, rand.Float64()*2-1)})
	b.mu.Lock()
	check := b.verify != nil && b.checkReq == 0
	b.mu.Unlock()
	if check {
		b.checkReq = 100 + uint32(rand.IntN(1000))
		b.send(&protocol.ClientMsg{Op: protocol.OpSync, Req: b.checkReq})
	}
}

func (b *Bot) finish(o Outcome, why string) {
	b.phase = phDone
	b.mu.Lock()
	b.fig.Outcome, b.fig.Err = o, why
	b.mu.Unlock()
	b.drop(1000)
}

// Mark makes the bot count the DELTAs of epoch it receives after t for ticks the old owner
// computed after t (stale frames of an owner that should have stopped): ticks above the last one
// it had at t + 2 (a frame or two may have been queued in the stopped process's writers).
func (b *Bot) Mark(t time.Time, epoch uint32) {
	b.mu.Lock()
	b.markAt, b.markEp, b.markTk = t, epoch, b.fig.EpochSeen[epoch].LastTick+2
	b.mu.Unlock()
}

func (b *Bot) onFrame(frame []byte, at time.Time) {
	var m protocol.ServerMsg
	if err := protocol.DecodeServer(frame, &m); err != nil {
		b.mu.Lock()
		b.fig.Err = "undecodable frame: " + err.Error()
		b.mu.Unlock()
		return
	}
	switch m.Op {
	case protocol.OpWelcome:
		b.fresh = m
		if b.session == "" {
			b.session, b.resumeTok = m.Session, m.ResumeToken
			b.join()
			return
		}
		b.phase = phResume
		b.note("RESUME")
		b.send(&protocol.ClientMsg{Op: protocol.OpResume, Req: 1, Session: b.session, ResumeToken: b.resumeTok, Epoch: b.mirror.Epoch, Tick: b.mirror.Tick})
	case protocol.OpResumed:
		b.note("RESUMED")
		b.session, b.resumeTok = m.Session, m.ResumeToken
		if b.following { // the session's seat was in a stale copy: nothing follows the RESUMED
			b.join()
			return
		}
		// A session whose copy stopped after a drain closed it is resumed with no seat: nothing
		// follows the RESUMED. Without CATCHUP/JOINED soon, take the seat back by id (a session
		// that does have it answers ALREADY_JOINED, and its answer still comes).
		gen := b.gen
		time.AfterFunc(resumeAnswerWait, func() {
			select {
			case b.in <- event{gen: gen, rejoin: true}:
			case <-b.done:
			}
		})
	case protocol.OpError:
		b.onError(&m)
	case protocol.OpJoined:
		if b.checkReq != 0 && m.Req == b.checkReq {
			b.checked(&m)
			return
		}
		if err := b.mirror.ApplyJoined(&m); err != nil {
			b.fail(err)
			return
		}
		if m.Ack > b.seq {
			b.seq = m.Ack
		}
		b.playing(m.Ack, true)
	case protocol.OpCatchup:
		if err := b.mirror.ApplyCatchup(&m); err != nil {
			b.fail(err)
			return
		}
		b.playing(0, false)
	case protocol.OpDelta:
		b.mu.Lock()
		if !b.markAt.IsZero() && at.After(b.markAt) && m.Epoch == b.markEp && m.Tick > b.markTk {
			b.fig.Stale++
		}
		b.mu.Unlock()
		if b.phase != phPlaying {
			return
		}
		switch game.FitDelta(true, b.mirror.Epoch, b.mirror.Tick, &m) {
		case game.FitStale:
			return
		case game.FitGap:
			b.send(&protocol.ClientMsg{Op: protocol.OpSync, Req: 3, Epoch: b.mirror.Epoch, Tick: b.mirror.Tick})
			return
		}
		if err := b.mirror.ApplyDelta(&m); err != nil {
			b.fail(err)
			return
		}
		b.seen(m.HasAck, m.Ack)
	case protocol.OpEnd:
		if m.Reason == protocol.EndMoved {
			b.following = true
			b.disrupted()
			b.mu.Lock()
			b.fig.EndMoved++
			b.mu.Unlock()
			b.drop(uint16(protocol.CloseMoved))
			b.addr = b.other()
			return
		}
		b.finish(Ended, "END "+m.Reason.String())
	}
}

func (b *Bot) fail(err error) {
	b.mu.Lock()
	b.fig.Err = err.Error()
	b.mu.Unlock()
	b.send(&protocol.ClientMsg{Op: protocol.OpSync, Req: 3})
}

func (b *Bot) onError(m *protocol.ServerMsg) {
	b.note("ERROR " + m.Code.String() + " to op " + strconv.Itoa(int(m.RefOp)) + ": " + m.Message)
	switch {
	case m.RefOp == protocol.OpResume && (m.Code == protocol.ErrCodeResumeFailed || m.Code == protocol.ErrCodeNotInMatch):
		// The session is gone (its instance died) or in no match: take the seat back by id.
		b.session, b.resumeTok = b.fresh.Session, b.fresh.ResumeToken
		b.following = true
		b.join()
	case m.RefOp == protocol.OpResume: // UNAVAILABLE, TIMEOUT: try elsewhere
		b.drop(uint16(protocol.CloseTimeout))
		b.addr = b.other()
	case m.RefOp == protocol.OpJoin && (m.Code == protocol.ErrCodeUnavailable || m.Code == protocol.ErrCodeTimeout):
		// Between owners: ask again after the next delay, on the same connection.
		gen := b.gen
		d := FullJitter(b.joinAtt, b.cfg.JoinBase, b.cfg.JoinCap)
		b.joinAtt++
		time.AfterFunc(d, func() {
			select {
			case b.in <- event{gen: gen, rejoin: true}:
			case <-b.done:
			}
		})
	case m.RefOp == protocol.OpJoin && m.Code == protocol.ErrCodeAlreadyJoined:
		// The resumed session had its seat after all: its CATCHUP/JOINED is on the way.
	case m.RefOp == protocol.OpJoin && m.Code == protocol.ErrCodeMatchEnded:
		b.finish(Ended, "MATCH_ENDED")
	case m.RefOp == protocol.OpJoin:
		b.finish(Lost, "JOIN refused: "+m.Code.String()+" "+m.Message)
	case m.RefOp == protocol.OpSync && m.Code == protocol.ErrCodeNotInMatch:
		b.finish(Lost, "seat gone: "+m.Message)
	}
}

// playing: the bot has the match's state (JOINED or CATCHUP).
func (b *Bot) playing(ack uint32, hasAck bool) {
	b.phase, b.following = phPlaying, false
	b.attempt, b.joinAtt = 0, 0
	b.lostSince = time.Time{}
	b.seen(hasAck, ack)
}

// seen records the state's epoch and tick, and an ack.
func (b *Bot) seen(hasAck bool, ack uint32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.fig.EpochSeen[b.mirror.Epoch]
	if !ok {
		e = EpochMark{FirstTick: b.mirror.Tick, FirstAt: time.Now(), wantSeq: b.seq + 1}
		if hasAck {
			e.FirstAck = ack
		}
	}
	if hasAck && e.BackAt.IsZero() && ack >= e.wantSeq {
		e.BackAt = time.Now()
	}
	if e.FirstAck == 0 && hasAck {
		e.FirstAck = ack
	}
	e.LastTick = b.mirror.Tick
	if hasAck {
		e.LastAck = ack
		b.fig.LastAck = ack
	}
	b.fig.EpochSeen[b.mirror.Epoch] = e
	b.fig.Epoch, b.fig.Tick = b.mirror.Epoch, b.mirror.Tick
	b.remember()
}

// checked keeps the snapshot answering the check's SYNC (the server's state at its tick; the
// bot itself did not get that tick's DELTA, as a member being synced) and applies it.
func (b *Bot) checked(m *protocol.ServerMsg) {
	b.checkReq = 0
	if err := b.mirror.ApplyJoined(m); err != nil {
		b.fail(err)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.remember()
	if b.verify == nil {
		return
	}
	b.snap = snapshotSum{epoch: b.mirror.Epoch, tick: b.mirror.Tick, sum: publicSum(&b.mirror), ok: true}
	close(b.verify)
	b.verify = nil
}

type botHandler struct {
	gws.BuiltinEventHandler
	b   *Bot
	gen int
}

func (h *botHandler) OnPing(c *gws.Conn, p []byte) { _ = c.WritePong(p) }

func (h *botHandler) OnMessage(_ *gws.Conn, m *gws.Message) {
	f := append([]byte(nil), m.Bytes()...)
	m.Close()
	select {
	case h.b.in <- event{at: time.Now(), gen: h.gen, frame: f}:
	case <-h.b.done:
	}
}

func (h *botHandler) OnClose(_ *gws.Conn, err error) {
	ev := event{gen: h.gen, closed: true, code: 1006}
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		ev.code, ev.reason = ce.Code, string(ce.Reason)
	}
	select {
	case h.b.in <- ev:
	case <-h.b.done:
	}
}

// publicSum is an order-independent checksum of a mirror's public state (entity → field →
// encoded value): the part every member of a match shares.
func publicSum(m *game.Mirror) uint64 {
	var sum uint64
	for id, fields := range m.Public {
		for k, v := range fields {
			h := fnv.New64a()
			var kb [8]byte
			binary.LittleEndian.PutUint32(kb[:4], id)
			binary.LittleEndian.PutUint32(kb[4:], k)
			h.Write(kb[:])
			h.Write([]byte(v))
			sum += h.Sum64()
		}
		sum += uint64(id)*0x9e3779b97f4a7c15 + uint64(len(fields)) // entities without fields count too
	}
	return sum
}
