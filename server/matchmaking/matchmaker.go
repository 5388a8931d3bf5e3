package matchmaking

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Options are the Matchmaker's collaborators; zero values are the defaults beside them.
type Options struct {
	Store  Store        // default a MemoryStore of Config.MaxTickets
	Placer Placer       // required
	Log    *slog.Logger // default slog.Default()
	// Notify is told of every change of a ticket (after the store has it), for each member:
	// the server pushes it to the player's connected sessions. Default: nobody is told.
	Notify  func(player string, t *Ticket)
	Metrics *Metrics // default metrics registered nowhere
	Now     func() time.Time
	Owner   string // this instance's name for queue leases (a shared store); default a random one
	// Parties keep the parties: default in memory (Config.MaxParties, MaxPartySize), or in
	// Redis beside the tickets when Store is a RedisStore (RedisParties: shared with the
	// other instances, each party kept Config.PartyTTL after its last change).
	Parties PartyStore
}

// Matchmaker runs the queues: one runner goroutine per queue (see doc.go).
type Matchmaker struct {
	cfg     Config
	store   Store
	placer  Placer
	log     *slog.Logger
	notify  func(player string, t *Ticket)
	now     func() time.Time
	metrics *Metrics
	parties PartyStore
	queues  map[string]*runner
	owner   string
	feed    bool // the store's change feed tells the players (Feed)

	crashed  atomic.Bool // tests: Close as a crash would (leases not released)
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New builds a matchmaker; Start runs it.
func New(cfg Config, o Options) (*Matchmaker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Placer == nil {
		return nil, errors.New("matchmaking: Options.Placer is required")
	}
	if o.Store == nil {
		o.Store = NewMemoryStore(cfg.MaxTickets)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Notify == nil {
		o.Notify = func(string, *Ticket) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Owner == "" {
		o.Owner = "mm-" + rand.Text()[:12]
	}
	if o.Parties == nil {
		if rs, ok := o.Store.(*RedisStore); ok {
			o.Parties = NewRedisParties(rs.rdb, rs.prefix, cfg.MaxParties, cfg.MaxPartySize, cfg.PartyTTL.D(), rs)
		} else {
			o.Parties = newParties(cfg.MaxParties, cfg.MaxPartySize)
		}
	}
	mm := &Matchmaker{cfg: cfg, store: o.Store, placer: o.Placer, log: o.Log, notify: o.Notify, now: o.Now,
		metrics: o.Metrics, parties: o.Parties, queues: map[string]*runner{}, stop: make(chan struct{}), owner: o.Owner}
	for i := range cfg.Queues {
		q := &cfg.Queues[i]
		mm.queues[q.Name] = &runner{mm: mm, q: q, kick: make(chan struct{}, 1), fresh: map[string]time.Time{},
			sem: make(chan struct{}, cfg.MaxPlacements)}
	}
	if f, ok := o.Store.(Feed); ok {
		mm.feed = true
		f.OnChange(mm.fromFeed)
	}
	return mm, nil
}

// Config is the configuration in force (defaults applied).
func (mm *Matchmaker) Config() Config { return mm.cfg }

// Parties are the matchmaker's parties.
func (mm *Matchmaker) Parties() PartyStore { return mm.parties }

// Queue is the named queue's config.
func (mm *Matchmaker) Queue(name string) (*Queue, bool) {
	r, ok := mm.queues[name]
	if !ok {
		return nil, false
	}
	return r.q, true
}

// Start runs the queue runners and the sweeper.
func (mm *Matchmaker) Start() {
	for _, r := range mm.queues {
		mm.wg.Add(1)
		go func() {
			defer mm.wg.Done()
			r.run()
		}()
	}
	mm.wg.Add(1)
	go func() {
		defer mm.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				mm.store.Sweep(mm.now(), mm.cfg.Retain.D())
				mm.metrics.live.Set(float64(mm.store.Len()))
			case <-mm.stop:
				return
			}
		}
	}()
}

// Leading reports whether this instance runs queue's matcher (always, with a store of its own).
func (mm *Matchmaker) Leading(queue string) bool {
	r := mm.queues[queue]
	if r == nil {
		return false
	}
	if _, shared := mm.store.(Leaser); !shared {
		return true
	}
	return r.leading.Load()
}

// Close stops the runners and waits for them and for the placements in progress.
func (mm *Matchmaker) Close() {
	mm.stopOnce.Do(func() { close(mm.stop) })
	mm.wg.Wait()
}

// Request is a ticket request.
type Request struct {
	Queue      string
	Properties map[string]any // "skill" (number) and "region" (string) are the matcher's
}

// Submit opens a ticket for player (and their party, if they lead one).
func (mm *Matchmaker) Submit(ctx context.Context, player Member, req Request) (*Ticket, error) {
	select {
	case <-mm.stop:
		return nil, ErrClosed
	default:
	}
	r, ok := mm.queues[req.Queue]
	if !ok {
		mm.metrics.refused.WithLabelValues("queue").Inc()
		return nil, fmt.Errorf("%w %q", ErrNoQueue, req.Queue)
	}
	q := r.q
	skill, region, err := mm.checkProperties(req.Properties, q)
	if err != nil {
		return nil, err
	}
	now := mm.now()
	t := &Ticket{ID: newTicketID(q.Name, rand.Text()[:20]), Queue: q.Name, Owner: player.ID, Skill: skill, Region: region,
		Properties: req.Properties, Created: now, Expires: now.Add(q.TicketTTL.D()), Status: Searching}
	party, err := mm.parties.Lock(ctx, player.ID, t.ID)
	if err != nil {
		mm.metrics.refused.WithLabelValues("party").Inc()
		return nil, err
	}
	if party != nil {
		t.Party, t.Members = party.ID, party.Members
	} else {
		t.Members = []Member{player}
	}
	if t.Size() > q.TeamSize() {
		mm.parties.Unlock(context.Background(), t.Party, t.ID)
		mm.metrics.refused.WithLabelValues("party_size").Inc()
		return nil, fmt.Errorf("%w: a party of %d does not fit a team of %d in queue %s", ErrInvalid, t.Size(), q.TeamSize(), q.Name)
	}
	if err := mm.store.Add(ctx, t); err != nil {
		mm.parties.Unlock(context.Background(), t.Party, t.ID)
		reason := "live_ticket"
		if errors.Is(err, ErrCapacity) {
			reason = "capacity"
		}
		mm.metrics.refused.WithLabelValues(reason).Inc()
		return nil, err
	}
	mm.metrics.submitted.WithLabelValues(q.Name).Inc()
	mm.metrics.phase.WithLabelValues(q.Name, "stored").Observe(max(mm.now().Sub(now), 0).Seconds())
	mm.changed(t)
	r.arrive(t.ID)
	return t, nil
}

// checkProperties enforces the property limits and reads skill and region.
func (mm *Matchmaker) checkProperties(p map[string]any, q *Queue) (float64, string, error) {
	refuse := func(reason string, err error) (float64, string, error) {
		mm.metrics.refused.WithLabelValues(reason).Inc()
		return 0, "", err
	}
	if len(p) > mm.cfg.MaxProperties {
		return refuse("properties", fmt.Errorf("%w: at most %d properties", ErrTooLarge, mm.cfg.MaxProperties))
	}
	skill, region := q.Skill.Default, ""
	for k, v := range p {
		if k == "" || len(k) > mm.cfg.MaxPropBytes {
			return refuse("properties", fmt.Errorf("%w: property names are 1-%d bytes", ErrTooLarge, mm.cfg.MaxPropBytes))
		}
		switch v := v.(type) {
		case string:
			if len(v) > mm.cfg.MaxPropBytes {
				return refuse("properties", fmt.Errorf("%w: property %q longer than %d bytes", ErrTooLarge, k, mm.cfg.MaxPropBytes))
			}
			if k == "region" {
				region = v
			}
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e9 {
				return refuse("properties", fmt.Errorf("%w: property %q out of range", ErrInvalid, k))
			}
			if k == "skill" {
				skill = v
			}
		case bool, nil:
		default:
			return refuse("properties", fmt.Errorf("%w: property %q must be a string, number, boolean or null", ErrInvalid, k))
		}
	}
	if v, ok := p["skill"]; ok && v != nil {
		if _, num := v.(float64); !num {
			return refuse("properties", fmt.Errorf("%w: skill must be a number", ErrInvalid))
		}
	}
	if v, ok := p["region"]; ok && v != nil {
		if _, str := v.(string); !str {
			return refuse("properties", fmt.Errorf("%w: region must be a string", ErrInvalid))
		}
	}
	return skill, region, nil
}

// Get returns ticket id if player is on it.
func (mm *Matchmaker) Get(ctx context.Context, id, player string) (*Ticket, error) {
	t, err := mm.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !t.Has(player) {
		return nil, ErrNotYours
	}
	return t, nil
}

// Wait returns ticket id once its status differs from status (empty: from its status now) or
// is an outcome (which never changes), or when ctx ends (then the current ticket, without an
// error). With a Follower store it reads the
// ticket once and takes its changes from the feed.
func (mm *Matchmaker) Wait(ctx context.Context, id, player string, status Status) (*Ticket, error) {
	if f, ok := mm.store.(Follower); ok {
		return mm.follow(ctx, f, id, player, status)
	}
	for {
		t, err := mm.Get(ctx, id, player)
		if err == nil && status == "" {
			status = t.Status
		}
		if err != nil || t.Status != status || t.Status.Terminal() {
			return t, err
		}
		ch, err := mm.store.Changed(ctx, id, t.Version)
		if err != nil {
			return nil, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return mm.store.Get(context.WithoutCancel(ctx), id)
		case <-mm.stop:
			return mm.store.Get(context.WithoutCancel(ctx), id)
		}
	}
}

// follow is Wait over a Follower: one read, then the changes the feed carries.
func (mm *Matchmaker) follow(ctx context.Context, f Follower, id, player string, status Status) (*Ticket, error) {
	changes, stop := f.Follow(id) // before the read: a change in between is not missed
	defer stop()
	t, err := mm.Get(ctx, id, player)
	if err != nil {
		return nil, err
	}
	if status == "" {
		status = t.Status
	}
	for t.Status == status && !t.Status.Terminal() {
		select {
		case c := <-changes:
			if c.Version >= t.Version {
				t = c
			}
		case <-ctx.Done():
			return mm.reread(ctx, t), nil
		case <-mm.stop:
			return mm.reread(ctx, t), nil
		}
	}
	return t, nil
}

// reread is ticket t as stored now, when a wait ends without a change: a change the feed lost
// (its connection was cut) is answered now rather than at the next long-poll.
func (mm *Matchmaker) reread(ctx context.Context, t *Ticket) *Ticket {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if nt, err := mm.store.Get(rctx, t.ID); err == nil && nt.Version >= t.Version {
		return nt
	}
	return t
}

// Cancel cancels player's ticket (ErrFinished once it has an outcome).
func (mm *Matchmaker) Cancel(ctx context.Context, id, player string) (*Ticket, error) {
	t, err := mm.store.Cancel(ctx, id, player)
	if err != nil {
		return t, err
	}
	mm.metrics.outcomes.WithLabelValues(t.Queue, string(Cancelled)).Inc()
	mm.changed(t)
	return t, nil
}

// changed tells the members, and frees the party once the ticket has its outcome. With a
// shared store the feed tells them instead (on every instance, this one included).
func (mm *Matchmaker) changed(t *Ticket) {
	if t.Status.Terminal() {
		mm.parties.Unlock(context.Background(), t.Party, t.ID)
	}
	if mm.feed {
		return
	}
	for _, m := range t.Members {
		mm.notify(m.ID, t)
	}
}

// fromFeed handles a change seen in a shared store (any instance made it): a new ticket wakes
// this instance's runner of its queue (which matches only while it holds the lease), a ticket
// given back wants a full run, and the players connected here are told.
func (mm *Matchmaker) fromFeed(t *Ticket) {
	if r := mm.queues[t.Queue]; r != nil && t.Status == Searching && !t.Placing {
		if t.Version == 0 {
			r.arrive(t.ID)
		} else {
			r.wantFull()
		}
	}
	if t.Status.Terminal() {
		mm.parties.Unlock(context.Background(), t.Party, t.ID)
	}
	for _, m := range t.Members {
		mm.notify(m.ID, t)
	}
}

// Searching reports whether player has a live ticket (the server keeps their idle
// connection open meanwhile).
func (mm *Matchmaker) Searching(player string) bool {
	_, ok, _ := mm.store.Live(context.Background(), player)
	return ok
}
