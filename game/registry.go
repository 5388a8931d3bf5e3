package game

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/tickrelay/tickrelay/protocol"
)

// ErrClosed is returned by Create after Shutdown began.
var ErrClosed = errors.New("game: registry is shutting down")

// ErrInit wraps the error a game's Init returned: the creation was refused (bad params). Its
// text is the game's own and is meant for the client.
var ErrInit = errors.New("game: init refused")

// ErrExists is returned by Create for an id already running.
var ErrExists = errors.New("game: match id already exists")

// Registry runs matches: it creates them from the Catalog, finds them by id, lists them, and
// stops them all at shutdown. It is safe for concurrent use; each match runs in its own
// goroutine, which the registry accounts for (Shutdown waits for every one).
type Registry struct {
	catalog *Catalog
	clock   Clock
	log     *slog.Logger
	metrics Metrics
	stagger bool
	slots   int // TickSlots (0: the per-match golden-ratio stagger)
	unused  time.Duration
	onEnded func(string)
	cps     CheckpointSink
	hold    func() bool
	limits  Options
	ended   *endedLog

	mu      sync.RWMutex
	matches map[string]*Match
	order   orderIndex              // the running matches in creation order, for paged listings
	slotUse map[time.Duration][]int // running matches per tick slot, per tick period
	closed  bool
	created uint64
	wg      sync.WaitGroup
}

// RegistryConfig configures a Registry. Zero values are the defaults in the comments.
type RegistryConfig struct {
	Catalog *Catalog     // required
	Clock   Clock        // default RealClock
	Log     *slog.Logger // default slog.Default()
	Metrics Metrics      // default NopMetrics
	// NoStagger starts every match's ticker at the same phase, its creation (tests). By
	// default matches tick on TickSlots slots of the interval (wheel.go).
	NoStagger bool
	// TickSlots is how many instants of each tick interval matches tick at: each match is on
	// one slot (a new one on the least loaded), and under RealClock one timer serves all the
	// matches of a slot, so the process wakes TickSlots times per interval, not once per
	// match. More slots spread the matches' writes thinner and cost more wake-ups. 0:
	// DefaultTickSlots; negative: no slots, every match a timer of its own at a golden-ratio
	// phase (the old behaviour). At most one slot per millisecond of the interval.
	TickSlots int
	// OnEnded is called with the id of every match that ends, after the registry forgot it (a
	// cluster bus withdraws it from the directory). It must not block.
	OnEnded func(id string)
	// Limits fills the inbox and relay limits (MaxInbox, MaxInputsTick, MaxInputBytes,
	// MaxRequests, MaxPerUser, RelayBudget, RelayShare) and CheckpointEvery that a game type's
	// Defaults leave zero:
	// the server's configuration. Other fields are ignored.
	Limits Options
	// EndedRetention is how long an ended match's final info and result stay readable
	// through Ended; default 5 minutes, negative: not kept.
	EndedRetention time.Duration
	// EndedMax caps how many ended matches are kept (the oldest goes first); default 1000.
	EndedMax int
	// UnusedTimeout is Options.UnusedTimeout for games that leave theirs zero; 0: 10s.
	UnusedTimeout time.Duration
	// Checkpoints receives the checkpoints of matches whose game implements Checkpointer
	// (every Options.CheckpointEvery) and is told when a match ended; nil: none are taken.
	Checkpoints CheckpointSink
	// Hold, when set, is asked before every tick of every match: while it returns true no
	// match ticks (inputs and requests wait in the inboxes). A cluster owner that cannot
	// know whether its leases still hold (it was not running for longer than a lease: a
	// SIGSTOP) holds its matches until it knows, so it never sends a frame of a copy that
	// another instance has taken over. It must be cheap and must not block.
	Hold func() bool
}

// NewRegistry returns a Registry.
func NewRegistry(c RegistryConfig) *Registry {
	if c.Catalog == nil {
		panic("game: RegistryConfig.Catalog is required")
	}
	if c.Clock == nil {
		c.Clock = RealClock{}
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NopMetrics{}
	}
	if c.EndedRetention == 0 {
		c.EndedRetention = 5 * time.Minute
	}
	if c.EndedMax <= 0 {
		c.EndedMax = 1000
	}
	if c.TickSlots == 0 {
		c.TickSlots = DefaultTickSlots
	}
	return &Registry{catalog: c.Catalog, clock: c.Clock, log: c.Log, metrics: c.Metrics, slots: max(c.TickSlots, 0), slotUse: map[time.Duration][]int{},
		stagger: !c.NoStagger, unused: c.UnusedTimeout, onEnded: c.OnEnded, cps: c.Checkpoints, hold: c.Hold, limits: c.Limits, matches: map[string]*Match{}, ended: newEndedLog(c.EndedRetention, c.EndedMax)}
}

// Catalog returns the registry's game catalog.
func (r *Registry) Catalog() *Catalog { return r.catalog }

// CreateOptions describe a new match.
type CreateOptions struct {
	ID         string            // default: a random id
	Game       string            // a name in the catalog
	Params     []byte            // msgpack value for Logic.Init (nil: none)
	Label      map[string]string // listing labels
	Private    bool              // not listed; joined by ticket or id only
	Creator    string            // the creating user ("" for the backend); in Info, not shown publicly
	MaxPlayers int               // 0: the game's default
	Epoch      uint32            // 0: 1 (a restored match gets a new epoch)
}

// Create starts a match. Init runs before Create returns; its error (or panic) refuses the
// creation.
func (r *Registry) Create(o CreateOptions) (*Match, error) {
	m, opts, err := r.newMatch(o)
	if err != nil {
		return nil, err
	}
	if err := r.start(m, opts); err != nil {
		return nil, err
	}
	r.log.Info("match created", "match", m.id, "game", m.game, "max_players", opts.MaxPlayers, "tick_rate", opts.TickRate)
	return m, nil
}

// start registers m and starts its goroutine.
func (r *Registry) start(m *Match, opts Options) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	if _, dup := r.matches[m.id]; dup {
		r.mu.Unlock()
		return ErrExists
	}
	r.matches[m.id] = m
	n := r.created
	r.created++
	m.seq = n
	r.order.add(m)
	r.wg.Add(1)
	interval := time.Second / time.Duration(opts.TickRate)
	slot, slots := -1, 0
	if r.stagger && r.slots > 0 {
		slots = min(r.slots, max(int(interval/time.Millisecond), 1))
		slot = r.takeSlot(interval, slots, n)
	}
	r.mu.Unlock()

	var ticker Ticker
	switch sc, ok := r.clock.(slotClock); {
	case slot >= 0 && ok:
		ticker = sc.NewSlotTicker(interval, slot, slots)
	case slot >= 0:
		ticker = r.clock.NewTicker(interval, slotPhase(r.clock.Now(), interval, slot, slots))
	case r.stagger:
		frac := float64(n) * 0.6180339887498949
		frac -= float64(int64(frac))
		ticker = r.clock.NewTicker(interval, time.Duration(frac*float64(interval)))
	default:
		ticker = r.clock.NewTicker(interval, 0)
	}
	go func() {
		defer r.wg.Done()
		m.run(ticker, func() {
			// On the match goroutine, so the end fields are ours to read.
			info := m.Info()
			info.Ended = true
			r.ended.add(EndedMatch{Info: info, Reason: m.endReason, Result: m.endResult, EndedAt: r.clock.Now()})
			r.mu.Lock()
			if r.matches[m.id] == m {
				delete(r.matches, m.id)
				r.order.remove(m)
			}
			if slot >= 0 {
				r.slotUse[interval][slot]--
			}
			r.mu.Unlock()
			if m.checkpoints != nil {
				m.checkpoints.Forget(m.id)
			}
			if r.onEnded != nil {
				r.onEnded(m.id)
			}
		})
	}()
	return nil
}

// DefaultTickSlots is RegistryConfig.TickSlots' default, chosen by measurement
// (bench/RESULTS.md, "tick slots").
const DefaultTickSlots = 4

// takeSlot picks the least loaded of k slots of period d for the n-th match (ties: from slot
// n mod k on, so matches created one after another go round the slots) and counts it (r.mu
// held).
func (r *Registry) takeSlot(d time.Duration, k int, n uint64) int {
	use := r.slotUse[d]
	if len(use) != k {
		use = make([]int, k)
		r.slotUse[d] = use
	}
	best := -1
	for j := range k {
		s := int((n + uint64(j)) % uint64(k))
		if best < 0 || use[s] < use[best] {
			best = s
		}
	}
	use[best]++
	return best
}

// newMatch builds a match and runs its Init, without starting its goroutine.
func (r *Registry) newMatch(o CreateOptions) (*Match, Options, error) {
	t, ok := r.catalog.Lookup(o.Game)
	if !ok {
		return nil, Options{}, fmt.Errorf("%w: %q", ErrUnknownGame, o.Game)
	}
	if len(o.Params) > 0 {
		// Init may put params anywhere in the state or its events: they get the payload budget.
		if err := protocol.CheckPayload(o.Params); err != nil {
			return nil, Options{}, fmt.Errorf("params: %w", payloadError(err))
		}
	}
	m, opts := r.buildMatch(t, o)
	var initErr error
	if err := m.safely(func() { initErr = m.logic.Init(&m.ctx, o.Params) }); err != nil {
		return nil, Options{}, fmt.Errorf("game: init %s: %w", o.Game, err)
	}
	if initErr != nil {
		var refusal *Refusal
		if errors.As(initErr, &refusal) {
			return nil, Options{}, fmt.Errorf("%w: %s: %s", ErrInit, o.Game, refusal.Reason)
		}
		return nil, Options{}, fmt.Errorf("%w: %s: %w", ErrInit, o.Game, initErr)
	}
	// Changes made by Init are the initial state: nobody has seen a delta yet.
	m.state.clearChanges()
	m.events, m.nEvents = m.events[:0], 0
	m.publishInfo()
	return m, opts, nil
}

// buildMatch builds a match of type t without running Init or starting its goroutine.
func (r *Registry) buildMatch(t GameType, o CreateOptions) (*Match, Options) {
	opts := t.Defaults
	if opts.UnusedTimeout == 0 {
		opts.UnusedTimeout = r.unused
	}
	if o.MaxPlayers > 0 {
		opts.MaxPlayers = o.MaxPlayers
	}
	opts = opts.withLimits(r.limits).withDefaults()
	if o.ID == "" {
		o.ID = newID()
	}
	if o.Epoch == 0 {
		o.Epoch = 1
	}
	label := make(map[string]string, len(o.Label))
	for k, v := range o.Label {
		label[k] = v
	}
	h := fnv.New64a()
	h.Write([]byte(o.ID))
	seed := h.Sum64()
	pcg := mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	m := &Match{
		id: o.ID, game: t.Name, private: o.Private, creator: o.Creator, created: r.clock.Now(), opts: opts, clock: r.clock,
		log: r.log.With("match", o.ID), metrics: r.metrics.Match(t.Name),
		in:  newInbox(opts.inboxLimits()),
		ctl: make(chan func()), done: make(chan struct{}),
		logic: t.New(), state: newState(), rng: mrand.New(pcg), pcg: pcg, checkpoints: r.cps, hold: r.hold,
		epoch: o.Epoch, label: label, members: map[uint32]*member{}, byUser: map[string]*member{},
		reserved: map[string]time.Time{}, spectators: map[Sink]bool{},
		ring: newRing(int(opts.RingDuration * time.Duration(opts.TickRate) / time.Second)),
	}
	m.ctx = Ctx{m: m}
	m.state.refused = func(e *Entity, k Key, err error) {
		m.limited(LimitPayloadDepth)
		m.log.Warn("field value not set: it is deeper than the payload depth budget", "entity", e.id, "key", k,
			"budget", protocol.PayloadDepth, "err", err)
	}
	return m, opts
}

// Get returns the running match id.
func (r *Registry) Get(id string) (*Match, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok := r.matches[id]
	return m, ok
}

// Len is the number of running matches.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.matches)
}

// Shutdown refuses new matches, stops every running one (EndStopped: members get END), and
// waits for their goroutines, or for ctx.
func (r *Registry) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	ms := make([]*Match, 0, len(r.matches))
	for _, m := range r.matches {
		ms = append(ms, m)
	}
	r.mu.Unlock()
	for _, m := range ms {
		m.Stop(protocol.EndStopped)
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "m-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
