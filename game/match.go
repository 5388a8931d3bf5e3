package game

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// Errors returned to callers of Match methods; the server maps them to protocol error codes.
var (
	ErrMatchFull  = errors.New("game: match is full")
	ErrMatchEnded = errors.New("game: match has ended")
	ErrBusy       = errors.New("game: match inbox is full")
	// ErrPayloadTooDeep: a payload nests deeper than the payload depth budget
	// (protocol.PayloadDepth), so some recipient could not decode the frame it would end up in.
	ErrPayloadTooDeep = errors.New("game: payload nests too deeply to deliver")
)

// Match is one running match: a goroutine that owns the game's state and ticks it.
//
// Its exported methods are safe from any goroutine: they queue typed messages on the bounded
// inbox (never blocking; see the overflow policy of each kind in inbox.go) and, for requests
// that need an answer, wait on a reply channel with the caller's context. Everything below the
// "owned by the match goroutine" line is touched only by that goroutine; no mutex guards game
// state.
type Match struct {
	id      string
	game    string
	private bool
	creator string
	seq     uint64 // creation order in the registry (listings page by it)
	created time.Time
	opts    Options
	clock   Clock
	log     *slog.Logger
	metrics MatchMetrics

	in       *inbox
	ctl      chan func() // run on the match goroutine between ticks (Inspect, Stop)
	stopOnce sync.Once
	done     chan struct{}
	info     atomic.Pointer[Info]
	tickNow  atomic.Uint32
	ticks    tickStats     // recent tick durations (tickstats.go)
	sleeps   atomic.Uint64 // times the match went to sleep (sleep.go)

	// owned by the match goroutine
	logic       Logic
	ctx         Ctx
	state       *State
	rng         *rand.Rand
	pcg         *rand.PCG // rng's source, whose state a checkpoint keeps
	checkpoints CheckpointSink
	hold        func() bool // RegistryConfig.Hold
	epoch       uint32
	tick        uint32
	lastEmit    uint32
	label       map[string]string
	members     map[uint32]*member
	order       []*member
	byUser      map[string]*member
	nextPID     uint32
	reserved    map[string]time.Time // user → reservation expiry
	spectators  map[Sink]bool
	newWatchers []watchReq
	events      []byte
	nEvents     int
	ring        ring
	scratch     []byte
	tail        []byte
	snapTick    uint32
	snapCache   []byte
	syncs       []syncReq
	groups      []groupBatch // this tick's group deliveries (group.go)
	groupBytes  []byte       // their tails
	ending      bool
	endReason   protocol.EndReason
	endResult   []byte
	ended       bool
	frozen      bool // Freeze: a hand-off took its last checkpoint, it no longer ticks (freeze.go)
	emptySince  time.Time
	everJoined  bool // a player has taken a seat at least once (else UnusedTimeout applies)
	infoDirty   bool
}

type syncReq struct {
	mem         *member
	req         uint32
	epoch, tick uint32
}

type watchReq struct {
	sink Sink
	req  uint32
}

// Info is a match's description for listings; it is a copy, safe to keep.
type Info struct {
	ID         string            `json:"id"`
	Game       string            `json:"game"`
	Label      map[string]string `json:"label"`
	Private    bool              `json:"private"`
	Players    int               `json:"players"`
	Reserved   int               `json:"reserved"` // seats held by live reservations (taken for listings)
	MaxPlayers int               `json:"max_players"`
	Tick       uint32            `json:"tick"`
	TickRate   int               `json:"tick_rate"`
	Epoch      uint32            `json:"epoch"`
	CreatedAt  time.Time         `json:"created_at"`
	Members    []MemberInfo      `json:"members"`
	// Creator is the user who created the match ("" for the backend or the matchmaker). Like
	// member user ids, the server shows it only to members and the backend.
	Creator string `json:"creator,omitempty"`
	Ended   bool   `json:"ended"`
	// TickP99Micros is the 99th percentile of the match's last 256 tick durations in
	// microseconds, and Overruns the ticks that took longer than the tick interval.
	TickP99Micros int64  `json:"tick_p99_us"`
	Overruns      uint64 `json:"overruns"`
}

// MemberInfo describes a seat in Info.
type MemberInfo struct {
	PID       uint32 `json:"pid"`
	UserID    string `json:"player_id,omitempty"` // shown only to members and the backend
	Name      string `json:"name"`
	Connected bool   `json:"connected"`
}

// ID is the match id.
func (m *Match) ID() string { return m.id }

// Game is the game type's name.
func (m *Match) Game() string { return m.game }

// Done is closed when the match goroutine has ended (and the registry no longer lists it).
func (m *Match) Done() <-chan struct{} { return m.done }

// Info returns the match's current description.
func (m *Match) Info() Info {
	i := *m.info.Load()
	i.Tick = m.tickNow.Load()
	i.TickP99Micros = m.ticks.p99.Load() / 1e3
	i.Overruns = m.ticks.overruns.Load()
	return i
}

// Sleeps is how many times the match slept for lack of anything to do (see Options.TickWhenEmpty).
func (m *Match) Sleeps() uint64 { return m.sleeps.Load() }

// Dropped is how many inputs were dropped over their sender's share of the inbox.
func (m *Match) Dropped() uint64 { return m.in.dropped.Load() }

// Refused is how many messages were refused: over the relay budget, over their sender's share
// of the inbox, or nested deeper than the payload depth budget.
func (m *Match) Refused() uint64 { return m.in.refused.Load() }

// Coalesced is how many SYNCs replaced a pending one of the same member.
func (m *Match) Coalesced() uint64 { return m.in.coalesced.Load() }

// Join asks for a seat for userID and waits for the answer (given at the next tick). The
// member then receives JOINED (answering req) and the deltas through sink. A user who already
// has a seat (a dropped player coming back, or a second connection) takes it over: the previous
// sink, if any, is Detached. Errors: ErrMatchFull, ErrMatchEnded, ErrBusy, a *Refusal from the
// game, or ctx's error.
func (m *Match) Join(ctx context.Context, userID, name string, meta []byte, sink Sink, req uint32) (uint32, error) {
	p, err := m.StartJoin(ctx, userID, name, meta, sink, req)
	if err != nil {
		return 0, err
	}
	return p.Wait(ctx)
}

// PendingJoin is a queued join; Wait for its answer.
type PendingJoin struct {
	m *Match
	j *joinReq
}

// StartJoin queues a join and returns without waiting (Join is StartJoin + Wait). ctx must stay
// live until the answer: a join whose ctx is done when the match reaches it is skipped.
func (m *Match) StartJoin(ctx context.Context, userID, name string, meta []byte, sink Sink, req uint32) (*PendingJoin, error) {
	j := &joinReq{ctx: ctx, userID: userID, name: name, meta: append([]byte(nil), meta...), reply: make(chan joinReply, 1)}
	if !m.counted(m.in.push(inMsg{kind: mJoin, req: req, sink: sink, join: j}, nil, nil, userID), LimitRequests) {
		return nil, m.refused()
	}
	return &PendingJoin{m: m, j: j}, nil
}

// JoinFunc queues a join and returns without waiting; done is called exactly once, on the match
// goroutine, with the seat's pid or why the join failed (ErrMatchFull, ErrMatchEnded, a
// *Refusal, or ctx's error when ctx was done before the match reached the join). A successful
// done runs before the member's first frame (JOINED) is delivered to sink. done must not block.
// The only error JoinFunc returns itself is ErrBusy (then done is not called).
func (m *Match) JoinFunc(ctx context.Context, userID, name string, meta []byte, sink Sink, req uint32, done func(pid uint32, err error)) error {
	j := &joinReq{ctx: ctx, userID: userID, name: name, meta: append([]byte(nil), meta...), done: done}
	if !m.counted(m.in.push(inMsg{kind: mJoin, req: req, sink: sink, join: j}, nil, nil, userID), LimitRequests) {
		return ErrBusy
	}
	return nil
}

// Wait returns the seat's pid, or why the join failed.
func (p *PendingJoin) Wait(ctx context.Context) (uint32, error) {
	select {
	case r := <-p.j.reply:
		return r.pid, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-p.m.done:
		select {
		case r := <-p.j.reply:
			return r.pid, r.err
		default:
			return 0, ErrMatchEnded
		}
	}
}

// Reserve holds a seat for userID for ttl (a matchmaking or HTTP-join reservation): the seat
// counts against MaxPlayers until the user joins or the reservation expires.
func (m *Match) Reserve(ctx context.Context, userID string, ttl time.Duration) error {
	reply := make(chan error, 1)
	if !m.counted(m.in.push(inMsg{kind: mReserve, a: uint32(ttl / time.Millisecond), replyErr: reply}, []byte(userID), nil, userID), LimitRequests) {
		return m.refused()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-m.done:
		return ErrMatchEnded
	}
}

// Leave tells the match that pid's connection (sink) left on purpose (LeaveLeft) or was lost
// (LeaveDropped: the seat is kept for the reconnect grace). A leave from a sink that is no
// longer the member's (it was replaced) is ignored. Never refused.
func (m *Match) Leave(pid uint32, sink Sink, reason protocol.LeaveReason) {
	m.in.push(inMsg{kind: mLeave, pid: pid, sink: sink, reason: reason}, nil, nil, "")
}

// Input queues pid's input; false if it was dropped (pid's share of the inbox is used up this
// tick: Options.MaxInputsTick inputs and messages, and its share of the input bytes).
func (m *Match) Input(pid, seq, seen uint32, payload []byte) bool {
	return m.counted(m.in.push(inMsg{kind: mInput, pid: pid, a: seq, b: seen}, payload, nil, ""), LimitInputShare)
}

// Message queues pid's message to the pids in to (empty: everyone); false if it was refused:
// pid's share of the inbox, or the relay budget of this tick (Options.RelayBudget for the
// match, Options.RelayShare for one sender), is used up. The caller tells the sender.
// Payloads deeper than the payload depth budget are refused too (see protocol.CheckPayload).
func (m *Match) Message(pid uint32, to []uint32, echo bool, payload []byte) bool {
	if protocol.CheckPayload(payload) != nil {
		m.in.refused.Add(1)
		m.limited(LimitPayloadDepth)
		return false
	}
	return m.counted(m.in.push(inMsg{kind: mMessage, pid: pid, echo: echo}, payload, to, ""), LimitMessageShare)
}

// payloadError wraps a refused payload's codec error with ErrPayloadTooDeep when it nests too
// deeply (other errors say the payload is not valid msgpack at all).
func payloadError(err error) error {
	if errors.Is(err, protocol.ErrTooDeep) {
		return fmt.Errorf("%w (the budget is %d levels): %w", ErrPayloadTooDeep, protocol.PayloadDepth, err)
	}
	return err
}

// counted reports whether r is pushQueued, counting a refusal (full as reason) or a coalesced SYNC.
func (m *Match) counted(r pushResult, full string) bool {
	switch r {
	case pushFull:
		m.limited(full)
	case pushBudget:
		m.limited(LimitRelayBudget)
	case pushReplaced:
		m.limited(LimitSyncCoalesced)
	}
	return r == pushQueued
}

func (m *Match) limited(reason string) {
	if lm, ok := m.metrics.(LimitMetrics); ok {
		lm.Limited(reason)
	}
}

// Publish queues a server event (EventServer) with a msgpack payload for every member. A
// payload deeper than the payload depth budget is refused with ErrPayloadTooDeep.
func (m *Match) Publish(payload []byte) error {
	if err := protocol.CheckPayload(payload); err != nil {
		m.limited(LimitPayloadDepth)
		return payloadError(err)
	}
	if !m.counted(m.in.push(inMsg{kind: mPublish}, payload, nil, ""), LimitRequests) {
		return m.refused()
	}
	return nil
}

// refused is why a request was not queued: the match ended, or its inbox is full.
func (m *Match) refused() error {
	if m.in.isClosed() {
		return ErrMatchEnded
	}
	return ErrBusy
}

// Sync asks the match to bring pid up to date from (epoch, tick): CATCHUP followed by the
// deltas it missed, or JOINED with a snapshot when they are no longer kept. If sink is not the
// member's current sink it takes the seat over (a resume on a new connection). It is always
// answered: when pid's seat is gone (its reconnect grace ran out, it was kicked) sink is
// Detached with LeaveTimeout; when the match ends first, sink gets END and is Detached with
// LeaveEnded; a match that already ended refuses it with ErrMatchEnded.
func (m *Match) Sync(pid uint32, sink Sink, req, epoch, tick uint32) error {
	// A SYNC replaces pid's pending one, so each member has at most one queued; refused only
	// when the match has ended.
	r := m.in.push(inMsg{kind: mSync, pid: pid, sink: sink, req: req, a: epoch, b: tick}, nil, nil, "")
	if r == pushClosed {
		return m.refused()
	}
	m.counted(r, LimitRequests)
	return nil
}

// Watch adds a spectator: sink gets a JOINED with pid 0 (answering req), then every delta with
// an empty tail. Unwatch removes it.
func (m *Match) Watch(sink Sink, req uint32) error {
	if !m.counted(m.in.push(inMsg{kind: mWatch, sink: sink, req: req}, nil, nil, ""), LimitRequests) {
		return m.refused()
	}
	return nil
}

// Unwatch removes a spectator.
func (m *Match) Unwatch(sink Sink) { m.in.push(inMsg{kind: mUnwatch, sink: sink}, nil, nil, "") }

// Kick removes pid from the match (operator action).
func (m *Match) Kick(pid uint32) { m.in.push(inMsg{kind: mKick, pid: pid}, nil, nil, "") }

// Stop ends the match with reason (EndStopped for operators and shutdown) as soon as its
// goroutine is free; members get END. It does not wait: use Done.
func (m *Match) Stop(reason protocol.EndReason) {
	m.stopOnce.Do(func() {
		go func() {
			select {
			case m.ctl <- func() { m.requestEnd(reason, nil) }:
			case <-m.done:
			}
		}()
	})
}

// Inspect runs fn on the match goroutine between ticks and waits for it. Tests use it to read
// state and as a barrier after ManualClock.Advance.
func (m *Match) Inspect(ctx context.Context, fn func(*Ctx)) error {
	finished := make(chan struct{})
	select {
	case m.ctl <- func() { fn(&m.ctx); close(finished) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-m.done:
		return ErrMatchEnded
	}
	select {
	case <-finished:
		return nil
	case <-m.done:
		return ErrMatchEnded
	}
}

// ---- the match goroutine ----

// run is the match goroutine. The ticker is created by the caller, before the goroutine
// starts, so that a ManualClock knows about it as soon as Create returns.
func (m *Match) run(t Ticker, onExit func()) {
	defer close(m.done)
	defer onExit() // before done closes: whoever sees Done closed no longer finds the match
	defer t.Stop()
	interval := time.Second / time.Duration(m.opts.TickRate)
	ticked, _ := t.(interface{ Ticked() })
	pause, _ := t.(pausable)
	tick := func() {
		if m.frozen || m.held() {
			return // handed off, or its lease may have lapsed: nothing may change or go out
		}
		start := time.Now()
		if err := m.safely(m.tickOnce); err != nil {
			m.fail(err)
			return
		}
		d := time.Since(start)
		m.metrics.Tick(d, d > interval)
		m.ticks.observe(d, d > interval)
	}
	for !m.ended {
		if pause != nil && !m.frozen && !m.held() && m.canSleep() {
			// An idle match serves a request at once (a join, a reservation, or the deadline
			// that woke it) rather than at its next tick; then it goes back to sleep.
			if (m.in.depth() > 0 || m.sleep(pause)) && !m.ended {
				tick()
			}
			continue
		}
		select {
		case <-t.C():
			if ticked != nil {
				ticked.Ticked()
			}
			tick()
		case fn := <-m.ctl:
			m.runCtl(fn)
		}
	}
}

// runCtl runs a ctl function (Inspect, Stop) on the match goroutine.
func (m *Match) runCtl(fn func()) {
	if err := m.safely(fn); err != nil {
		m.fail(err)
		return
	}
	if m.ending && !m.ended {
		m.finish()
	}
}

// safely runs fn, turning a panic (in game code or ours) into an error with its stack.
func (m *Match) safely(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	fn()
	return nil
}

// fail ends the match after a panic: logged once with the stack, END with EndError to members.
func (m *Match) fail(err error) {
	m.log.Error("match failed", "game", m.game, "err", err)
	m.ending, m.endReason = true, protocol.EndError
	m.endResult = protocol.AppendString(nil, "internal error in game logic")
	m.finish()
}

func (m *Match) requestEnd(reason protocol.EndReason, result []byte) {
	if !m.ending {
		m.ending, m.endReason, m.endResult = true, reason, result
	}
}

func (m *Match) tickOnce() {
	m.tick++
	m.tickNow.Store(m.tick)
	now := m.clock.Now()
	m.preTick() // members' sinks that read their own sockets queue their inputs now (pretick.go)
	msgs, bytes, pids := m.in.drain()
	for i := range msgs {
		m.handle(&msgs[i], bytes, pids, now)
	}
	m.in.recycle(msgs, bytes, pids)
	m.expire(now)
	if !m.ending {
		m.logic.Step(&m.ctx)
	}
	// Info first: a member who gets JOINED (in commit) already finds itself in the listing.
	if m.infoDirty {
		m.publishInfo()
	}
	m.commit()
	m.maybeCheckpoint()
	m.metrics.Inbox(m.in.depth())
	if m.ending {
		m.finish()
	}
}

func (m *Match) handle(msg *inMsg, bytes []byte, pids []uint32, now time.Time) {
	payload := bytes[msg.off : msg.off+msg.n]
	switch msg.kind {
	case mJoin:
		m.handleJoin(msg.join, msg.sink, msg.req, now)
	case mReserve:
		m.handleReserve(string(payload), time.Duration(msg.a)*time.Millisecond, msg.replyErr, now)
	case mLeave:
		mem := m.members[msg.pid]
		if mem == nil || mem.sink != msg.sink || msg.sink == nil {
			return // stale: the seat moved to another connection, or is already gone
		}
		if msg.reason == protocol.LeaveDropped && m.opts.ReconnectGrace > 0 && !m.ending {
			mem.sink, mem.Connected, mem.droppedAt = nil, false, now
			mem.syncing, mem.joining = false, false
			m.addEvent(nil, protocol.EventLeave, mem.PID, []byte{byte(protocol.LeaveDropped)})
			m.logic.Leave(&m.ctx, &mem.Player, protocol.LeaveDropped)
			m.infoDirty = true
			m.log.Info("player dropped", "pid", mem.PID, "user", mem.UserID, "reason", protocol.LeaveDropped.String(), "grace", m.opts.ReconnectGrace)
			m.memberEvent(MemberDropped, protocol.LeaveDropped.String())
			return
		}
		mem.sink = nil // it asked: no Detached
		m.removeMember(mem, msg.reason)
	case mInput:
		mem := m.members[msg.pid]
		if mem == nil || !mem.Connected || msg.a <= mem.LastInput {
			return // unknown, dropped, or a duplicate/reordered input: ignored
		}
		m.logic.Input(&m.ctx, &mem.Player, msg.a, payload)
		mem.LastInput, mem.ackDirty = msg.a, true
	case mMessage:
		mem := m.members[msg.pid]
		if mem == nil || !mem.Connected {
			return
		}
		m.logic.Message(&m.ctx, &mem.Player, pids[msg.toOff:msg.toOff+msg.toN], msg.echo, payload)
	case mPublish:
		m.addEvent(nil, protocol.EventServer, 0, payload)
	case mSync:
		if msg.sink == nil {
			return
		}
		mem := m.members[msg.pid]
		if mem == nil {
			// The seat is gone (timed out, kicked, left): say so, or the client waits forever.
			msg.sink.Detached(m.id, msg.pid, protocol.LeaveTimeout)
			return
		}
		if mem.sink != msg.sink {
			m.attach(mem, msg.sink)
		}
		mem.syncing = true
		m.syncs = append(m.syncs, syncReq{mem: mem, req: msg.req, epoch: msg.a, tick: msg.b})
	case mWatch:
		m.newWatchers = append(m.newWatchers, watchReq{sink: msg.sink, req: msg.req})
	case mUnwatch:
		delete(m.spectators, msg.sink)
		for i, w := range m.newWatchers {
			if w.sink == msg.sink {
				m.newWatchers = append(m.newWatchers[:i], m.newWatchers[i+1:]...)
				break
			}
		}
	case mKick:
		if mem := m.members[msg.pid]; mem != nil {
			m.removeMember(mem, protocol.LeaveKicked)
		}
	}
}

// attach gives mem's seat to sink (a rejoin or a takeover by a new connection).
func (m *Match) attach(mem *member, sink Sink) {
	if old := mem.sink; old != nil && old != sink {
		old.Detached(m.id, mem.PID, protocol.LeaveReplaced)
	}
	mem.sink = sink
	if !mem.Connected {
		mem.Connected = true
		mem.droppedAt = time.Time{}
		m.addEvent(nil, protocol.EventRejoin, mem.PID, nil)
		m.logic.Rejoin(&m.ctx, &mem.Player)
		m.infoDirty = true
	}
}

func (m *Match) handleJoin(j *joinReq, sink Sink, req uint32, now time.Time) {
	answer := j.answer
	if err := j.ctx.Err(); err != nil {
		if j.done != nil {
			j.done(0, err)
		}
		return // the caller gave up; nothing was taken
	}
	if m.ending {
		answer(0, ErrMatchEnded)
		return
	}
	if mem := m.byUser[j.userID]; mem != nil {
		m.attach(mem, sink)
		mem.joining, mem.joinReq, mem.syncing = true, req, false
		m.log.Info("player rejoined", "pid", mem.PID, "user", j.userID)
		m.memberEvent(MemberRejoined, "")
		answer(mem.PID, nil)
		return
	}
	taken := len(m.order)
	for u, exp := range m.reserved {
		if u != j.userID && exp.After(now) {
			taken++
		}
	}
	if taken >= m.opts.MaxPlayers {
		answer(0, ErrMatchFull)
		return
	}
	m.nextPID++
	mem := &member{Player: Player{PID: m.nextPID, UserID: j.userID, Name: j.name, Meta: j.meta, Connected: true}, sink: sink}
	if len(mem.Meta) == 0 {
		mem.Meta = nil
	}
	if err := m.logic.Admit(&m.ctx, &mem.Player); err != nil {
		m.nextPID--
		answer(0, err)
		return
	}
	delete(m.reserved, j.userID)
	m.members[mem.PID] = mem
	m.byUser[j.userID] = mem
	m.order = append(m.order, mem)
	m.everJoined = true
	mem.joining, mem.joinReq = true, req
	m.logic.Join(&m.ctx, &mem.Player)
	data := protocol.AppendArrayHeader(nil, 2)
	data = protocol.AppendString(data, j.userID)
	data = protocol.AppendString(data, j.name)
	m.addEvent(nil, protocol.EventJoin, mem.PID, data)
	m.infoDirty = true
	m.log.Info("player joined", "pid", mem.PID, "user", j.userID, "name", j.name, "players", len(m.order))
	m.memberEvent(MemberJoined, "")
	answer(mem.PID, nil)
}

func (m *Match) handleReserve(user string, ttl time.Duration, reply chan error, now time.Time) {
	if m.ending {
		reply <- ErrMatchEnded
		return
	}
	if m.byUser[user] != nil {
		reply <- nil // already seated: the ticket lets it reconnect
		return
	}
	taken := len(m.order)
	for u, exp := range m.reserved {
		if u != user && exp.After(now) {
			taken++
		}
	}
	if taken >= m.opts.MaxPlayers {
		reply <- ErrMatchFull
		return
	}
	if _, had := m.reserved[user]; !had {
		m.infoDirty = true // listings count reserved seats as taken
	}
	m.reserved[user] = now.Add(ttl)
	reply <- nil
}

// removeMember frees a seat for good.
func (m *Match) removeMember(mem *member, reason protocol.LeaveReason) {
	if m.members[mem.PID] != mem {
		return
	}
	delete(m.members, mem.PID)
	delete(m.byUser, mem.UserID)
	for i, x := range m.order {
		if x == mem {
			m.order = append(m.order[:i], m.order[i+1:]...)
			break
		}
	}
	mem.Connected = false
	m.log.Info("player left", "pid", mem.PID, "user", mem.UserID, "reason", reason.String(), "players", len(m.order))
	m.memberEvent(MemberLeft, reason.String())
	m.logic.Leave(&m.ctx, &mem.Player, reason)
	m.addEvent(nil, protocol.EventLeave, mem.PID, []byte{byte(reason)})
	if mem.sink != nil {
		mem.sink.Detached(m.id, mem.PID, reason)
		mem.sink = nil
	}
	m.infoDirty = true
}

// expire ends dropped seats past the grace, old reservations, and an empty match.
func (m *Match) expire(now time.Time) {
	for i := 0; i < len(m.order); i++ {
		mem := m.order[i]
		if !mem.Connected && now.Sub(mem.droppedAt) >= m.opts.ReconnectGrace {
			m.removeMember(mem, protocol.LeaveTimeout)
			i--
		}
	}
	for u, exp := range m.reserved {
		if !exp.After(now) {
			delete(m.reserved, u)
			m.infoDirty = true
		}
	}
	if len(m.order) > 0 || len(m.reserved) > 0 {
		m.emptySince = time.Time{}
		return
	}
	if m.emptySince.IsZero() {
		m.emptySince = now
	}
	if t := m.emptyTimeout(); t > 0 && now.Sub(m.emptySince) >= t {
		m.requestEnd(protocol.EndEmpty, nil)
	}
}

// emptyTimeout is how long the match may stay empty: UnusedTimeout until a player has taken a
// seat (a match nobody ever joined ends soon), EmptyTimeout after. 0: never.
func (m *Match) emptyTimeout() time.Duration {
	if !m.everJoined && m.opts.UnusedTimeout > 0 {
		return m.opts.UnusedTimeout
	}
	if m.opts.EmptyTimeout > 0 {
		return m.opts.EmptyTimeout
	}
	return 0
}

// addEvent appends [kind, from, data] to this tick's shared events (to == nil) or to one
// member's direct events.
func (m *Match) addEvent(to *member, kind protocol.EventKind, from uint32, data []byte) {
	if to == nil {
		m.events = appendEvent(m.events, kind, from, data)
		m.nEvents++
		return
	}
	to.direct = appendEvent(to.direct, kind, from, data)
	to.nDirect++
}

func appendEvent(b []byte, kind protocol.EventKind, from uint32, data []byte) []byte {
	b = append(b, 0x93, byte(kind))
	b = protocol.AppendUint(b, uint64(from))
	return protocol.AppendRaw(b, data)
}
