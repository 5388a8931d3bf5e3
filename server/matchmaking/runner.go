package matchmaking

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// minRerun is the shortest gap between a run and a timer-driven (full) one after it: the
// widenings, expiries and smaller-match starts that fall within it are taken together, so a
// long queue costs at most a few full runs per second. Arrivals do not wait for it.
const minRerun = 200 * time.Millisecond

// arrivalGap is the shortest gap between two runs: what arrives meanwhile is matched together.
const arrivalGap = 5 * time.Millisecond

// runner is one queue's matcher loop. Only its goroutine calls once; arrive and wantFull are
// called from anywhere (mu guards fresh and full).
type runner struct {
	mm   *Matchmaker
	q    *Queue
	kick chan struct{} // 1-buffered: a run is wanted (overflow: one pending kick is enough)
	sem  chan struct{} // placements in flight (blocks the runner when MaxPlacements are)

	mu    sync.Mutex
	fresh map[string]time.Time // arrived since the last run → when this runner learned of it
	full  bool

	told map[string]progress // runner goroutine only: the window each searching ticket was last told

	// With a Tail store: the queue as of cursor (runner goroutine only), read in full when
	// resync is set (the lease was taken over) or the log has a gap.
	cache     map[string]*Ticket
	cursor    uint64
	resync    atomic.Bool
	lastStale time.Time // the last look for claims a lost matcher left

	// With a shared store (Leaser): the lease this runner holds, if any (runner goroutine only;
	// placements get a copy).
	leaseMu sync.Mutex // guards fence, leader and renewed (the lease goroutine sets them)
	fence   Fence
	leader  bool
	renewed time.Time   // the last successful renewal
	leading atomic.Bool // leader, for other goroutines (Matchmaker.Leading)
}

// lease is the runner's current lease (Fence{}, true without a shared store).
func (r *runner) lease() (Fence, bool) {
	if _, shared := r.mm.store.(Leaser); !shared {
		return Fence{}, true
	}
	r.leaseMu.Lock()
	defer r.leaseMu.Unlock()
	return r.fence, r.leader
}

// progress is what a searching ticket's players were last told of its window.
type progress struct {
	window float64
	level  int
}

// arrive tells the runner that ticket id is new: it runs at once (no interval).
func (r *runner) arrive(id string) {
	now := time.Now()
	r.mu.Lock()
	if _, ok := r.fresh[id]; !ok {
		r.fresh[id] = now
	}
	r.mu.Unlock()
	r.poke()
}

// wantFull asks for a run in which every ticket may start a group.
func (r *runner) wantFull() {
	r.mu.Lock()
	r.full = true
	r.mu.Unlock()
	r.poke()
}

func (r *runner) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *runner) run() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	if leaser, shared := r.mm.store.(Leaser); shared {
		// The lease is renewed on a goroutine of its own: a long run must not lose it.
		r.renew(leaser)
		r.mm.wg.Add(1)
		go func() {
			defer r.mm.wg.Done()
			t := time.NewTicker(r.mm.cfg.LeaseTTL.D() / 3)
			defer t.Stop()
			for {
				select {
				case <-r.mm.stop:
					if f, held := r.lease(); held && !r.mm.crashed.Load() {
						ctx, cancel := context.WithTimeout(context.Background(), time.Second)
						_ = leaser.ReleaseLease(ctx, f)
						cancel()
					}
					return
				case <-t.C:
					r.renew(leaser)
				}
			}
		}()
	}
	var due, lastFull, lastRun time.Time // when the armed timer fires (zero: not armed); the last full run; the last run
	for {
		select {
		case <-r.mm.stop:
			return
		case <-r.kick:
		case <-timer.C:
			due = time.Time{}
			r.mu.Lock()
			r.full = true
			r.mu.Unlock()
		}
		if _, held := r.lease(); !held {
			continue // another instance runs this queue
		}
		// Arrivals close together are taken in one run: at 1,000 tickets/s a run every
		// arrivalGap takes about ten, for at most arrivalGap of latency.
		if wait := arrivalGap - time.Since(lastRun); wait > 0 {
			gap := time.NewTimer(wait)
			select {
			case <-r.mm.stop:
				gap.Stop()
				return
			case <-gap.C:
			}
		}
		lastRun = time.Now()
		r.mu.Lock()
		full := r.full
		r.mu.Unlock()
		now := r.mm.now()
		if full {
			lastFull = now
		}
		next, ran := r.once()
		if !ran || next.IsZero() {
			continue
		}
		// Arrivals run at once; full runs come at most every minRerun. An armed timer is only
		// ever moved earlier: runs on arrival (many per second) must not keep pushing it out.
		at := next
		if earliest := lastFull.Add(minRerun); at.Before(earliest) {
			at = earliest
		}
		if due.IsZero() || at.Before(due) {
			timer.Reset(max(at.Sub(now), time.Millisecond))
			due = at
		}
	}
}

// renew acquires or renews the queue's lease. A runner that becomes the holder requeues what a
// lost holder left claimed and runs a full match at once.
func (r *runner) renew(l Leaser) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	f, ok, err := l.Lease(ctx, r.q.Name, r.mm.owner, r.mm.cfg.LeaseTTL.D())
	now := time.Now()
	r.leaseMu.Lock()
	if err != nil {
		// Cannot tell (Redis slow or away): a lease renewed less than half a TTL ago is still
		// ours (writes are fenced anyway); after that, stop matching until it is renewed.
		r.mm.log.Warn("matchmaking: lease", "queue", r.q.Name, "err", err)
		f, ok = r.fence, r.leader && now.Sub(r.renewed) < r.mm.cfg.LeaseTTL.D()/2
	} else if ok {
		r.renewed = now
	}
	was := r.leader
	r.leader, r.fence = ok, f
	r.leaseMu.Unlock()
	r.leading.Store(ok)
	if !ok {
		r.resync.Store(true) // another instance changes the queue meanwhile
		return
	}
	if was {
		return
	}
	r.mm.metrics.leases.WithLabelValues(r.q.Name).Inc()
	r.mm.log.Info("matchmaking: this instance runs the queue", "queue", r.q.Name, "fence", f.Token)
	if n, err := l.RequeueStale(ctx, f, staleClaim); err == nil && n > 0 {
		r.mm.log.Info("matchmaking: requeued tickets a lost matcher held", "queue", r.q.Name, "tickets", n)
	}
	r.resync.Store(true)
	r.wantFull()
}

// staleClaim is how long a claim may last before the queue's matcher gives its tickets back
// (a placement gives up after 10 s).
const staleClaim = 15 * time.Second

// searching is the queue's searching tickets that no placement holds: from the store, or with
// a Tail store from the runner's copy of the queue brought up to date with what changed.
func (r *runner) searching(ctx context.Context) ([]*Ticket, error) {
	tail, ok := r.mm.store.(Tail)
	if !ok {
		return r.mm.store.Searching(ctx, r.q.Name)
	}
	if r.resync.Swap(false) || r.cache == nil {
		if err := r.snapshot(ctx, tail); err != nil {
			return nil, err
		}
	} else {
		changed, gone, cursor, err := tail.Since(ctx, r.q.Name, r.cursor)
		if errors.Is(err, errGap) {
			r.mm.log.Info("matchmaking: the change log moved past this matcher: reading the queue", "queue", r.q.Name)
			err = r.snapshot(ctx, tail)
		} else if err == nil {
			r.cursor = cursor
			for _, t := range changed {
				if old := r.cache[t.ID]; old != nil && old.Version > t.Version {
					continue
				}
				if t.Status == Searching {
					r.cache[t.ID] = t
				} else {
					delete(r.cache, t.ID)
				}
			}
			for _, id := range gone {
				delete(r.cache, id)
			}
		}
		if err != nil {
			r.resync.Store(true)
			return nil, err
		}
	}
	out := make([]*Ticket, 0, len(r.cache))
	var claims []*Ticket
	for _, t := range r.cache {
		if !t.Placing {
			out = append(out, t)
		} else {
			claims = append(claims, t)
		}
	}
	// Claims a lost matcher left (or that outlived any placement) go back to the search.
	if now := time.Now(); now.Sub(r.lastStale) >= time.Second {
		r.lastStale = now
		fence, _ := r.lease()
		if ids := staleClaims(claims, fence, staleClaim, now); len(ids) > 0 {
			_ = r.mm.store.Requeue(ctx, ids)
		}
	}
	return out, nil
}

func (r *runner) snapshot(ctx context.Context, tail Tail) error {
	ts, cursor, err := tail.Snapshot(ctx, r.q.Name)
	if err != nil {
		return err
	}
	r.cache, r.cursor = make(map[string]*Ticket, len(ts)), cursor
	for _, t := range ts {
		r.cache[t.ID] = t
	}
	return nil
}

// once runs the matcher over the queue and starts the placements it asks for. It reports when
// the next timer-driven run is due, and false when there was nothing to do.
func (r *runner) once() (time.Time, bool) {
	r.mu.Lock()
	fresh, full := r.fresh, r.full
	if len(fresh) == 0 && !full {
		r.mu.Unlock()
		return time.Time{}, false
	}
	r.fresh, r.full = map[string]time.Time{}, false
	r.mu.Unlock()

	mm, q := r.mm, r.q
	ctx := asRunner(context.Background())
	read := time.Now()
	tickets, err := r.searching(ctx)
	mm.metrics.readSeconds.WithLabelValues(q.Name).Observe(time.Since(read).Seconds())
	if err != nil {
		mm.log.Warn("matchmaking: cannot read the queue", "queue", q.Name, "err", err)
		return mm.now().Add(time.Second), true
	}
	isFresh := make(map[string]bool, len(fresh))
	for id := range fresh {
		isFresh[id] = true
	}
	seen, queued := mm.metrics.phase.WithLabelValues(q.Name, "seen"), mm.metrics.phase.WithLabelValues(q.Name, "queued")
	for _, t := range tickets {
		if at, ok := fresh[t.ID]; ok {
			seen.Observe(max(at.Sub(t.Created), 0).Seconds())
			queued.Observe(read.Sub(at).Seconds())
		}
	}
	now := mm.now()
	var open []Open
	if q.Backfill {
		open = mm.placer.Open(q, now)
	}
	start := time.Now()
	res := Match(Input{Queue: q, Tickets: tickets, Open: open, Now: now, Fresh: isFresh, Full: full})
	kind := "arrival"
	if full {
		kind = "full"
	}
	mm.metrics.runs.WithLabelValues(q.Name, kind).Inc()
	mm.metrics.runSeconds.WithLabelValues(q.Name).Observe(time.Since(start).Seconds())
	for _, t := range res.Expired {
		fence, _ := r.lease()
		ft, err := mm.store.Finish(ctx, fence, t.ID, Outcome{Status: Expired, Reason: "no match within the ticket's lifetime", At: now})
		if err == nil {
			mm.metrics.outcomes.WithLabelValues(q.Name, string(Expired)).Inc()
			mm.changed(ft)
		}
	}
	fence, _ := r.lease()
	var jobs []job
	for _, g := range res.Groups {
		jobs = append(jobs, job{ids(g.Tickets), func(ids []string) { r.place(g, ids, fence) }})
	}
	for _, b := range res.Backfills {
		jobs = append(jobs, job{ids(b.Tickets), func(ids []string) { r.backfill(b, ids, fence) }})
	}
	r.startAll(jobs)
	if full {
		r.tellProgress(tickets, res, now)
	}
	return res.Next, true
}

// tellProgress pushes the ticket (its waited time and current window) to the players of every
// ticket still searching whose window widened since they were last told: the SDK reports
// progress without polling. Only full runs can follow a widening, so only they look.
func (r *runner) tellProgress(tickets []*Ticket, res Result, now time.Time) {
	done := map[string]bool{}
	for _, t := range res.Expired {
		done[t.ID] = true
	}
	for _, g := range res.Groups {
		for _, t := range g.Tickets {
			done[t.ID] = true
		}
	}
	for _, b := range res.Backfills {
		for _, t := range b.Tickets {
			done[t.ID] = true
		}
	}
	if r.told == nil {
		r.told = map[string]progress{}
	}
	seen := make(map[string]bool, len(tickets))
	for _, t := range tickets {
		if done[t.ID] {
			continue
		}
		seen[t.ID] = true
		w := now.Sub(t.Created)
		p := progress{r.q.Window(w), r.q.RegionLevel(w)}
		if old, ok := r.told[t.ID]; ok && old == p || !ok && w < r.q.Skill.Every.D() && p.level == RegionOwn {
			continue // unchanged since the last push (or since the "searching" push at creation)
		}
		r.told[t.ID] = p
		for _, m := range t.Members {
			r.mm.notify(m.ID, t)
		}
	}
	for id := range r.told {
		if !seen[id] {
			delete(r.told, id)
		}
	}
}

func ids(ts []*Ticket) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// job is a group (or backfill) to claim and place.
type job struct {
	ids []string
	run func(ids []string)
}

// startAll claims each job's tickets (all or none per job; with a GroupClaimer store, every
// job of the run in one transaction) and runs the claimed ones in placement goroutines.
func (r *runner) startAll(jobs []job) {
	if len(jobs) == 0 {
		return
	}
	fence, _ := r.lease()
	errs := make([]error, len(jobs))
	claim := time.Now()
	if gc, ok := r.mm.store.(GroupClaimer); ok && len(jobs) > 1 {
		groups := make([][]string, len(jobs))
		for i, j := range jobs {
			groups[i] = j.ids
		}
		res, err := gc.ClaimGroups(asRunner(context.Background()), fence, groups)
		for i := range errs {
			if err != nil {
				errs[i] = err
			} else {
				errs[i] = res[i]
			}
		}
	} else {
		for i, j := range jobs {
			errs[i] = r.mm.store.Claim(asRunner(context.Background()), fence, j.ids)
		}
	}
	r.mm.metrics.phase.WithLabelValues(r.q.Name, "claim").Observe(time.Since(claim).Seconds())
	slot := r.mm.metrics.phase.WithLabelValues(r.q.Name, "slot")
	for i, j := range jobs {
		if errs[i] != nil {
			// One was cancelled meanwhile: the others search on, and may anchor groups again.
			r.mu.Lock()
			r.full = true
			r.mu.Unlock()
			r.poke()
			continue
		}
		waited := time.Now()
		select {
		case r.sem <- struct{}{}:
			slot.Observe(time.Since(waited).Seconds())
		case <-r.mm.stop:
			_ = r.mm.store.Requeue(context.Background(), j.ids)
			continue
		}
		r.mm.wg.Add(1)
		go func() {
			defer r.mm.wg.Done()
			defer func() { <-r.sem }()
			j.run(j.ids)
		}()
	}
}

func (r *runner) place(g Group, ids []string, fence Fence) {
	mm := r.mm
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	placing := time.Now()
	p, err := mm.placer.Place(ctx, r.q, g)
	mm.metrics.phase.WithLabelValues(r.q.Name, "place").Observe(time.Since(placing).Seconds())
	if err != nil {
		r.failed(ids, err)
		return
	}
	mm.metrics.matches.WithLabelValues(r.q.Name, p.Node).Inc()
	mm.metrics.spread.WithLabelValues(r.q.Name).Observe(g.Spread)
	r.matched(g.Tickets, p, g.Window, fence, false)
}

func (r *runner) backfill(b Backfill, ids []string, fence Fence) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := r.mm.placer.Backfill(ctx, r.q, b.Match, b.Tickets)
	if err != nil {
		r.failed(ids, err)
		return
	}
	r.mm.metrics.backfills.WithLabelValues(r.q.Name).Inc()
	var w float64
	for _, t := range b.Tickets {
		w = max(w, r.q.Window(r.mm.now().Sub(t.Created)))
	}
	r.matched(b.Tickets, p, w, fence, true)
}

func (r *runner) matched(ts []*Ticket, p Placement, window float64, fence Fence, backfill bool) {
	mm := r.mm
	now := mm.now()
	ids := make([]string, len(ts))
	outs := make([]Outcome, len(ts))
	for i, t := range ts {
		seats := make([]Seat, 0, t.Size())
		for _, m := range t.Members {
			s := p.Seats[m.ID]
			s.Player = m.ID
			seats = append(seats, s)
		}
		ids[i], outs[i] = t.ID, Outcome{Status: Matched, Seats: seats, Window: window, At: now}
	}
	// All the group's tickets at once: a matcher that lost its lease meanwhile finishes none.
	finishing := time.Now()
	done, err := mm.store.FinishAll(context.Background(), fence, ids, outs)
	mm.metrics.phase.WithLabelValues(r.q.Name, "finish").Observe(time.Since(finishing).Seconds())
	if err != nil {
		mm.metrics.placementFailures.WithLabelValues(r.q.Name).Inc()
		mm.log.Warn("matchmaking: a placed group could not be finished: its seats are given back", "queue", r.q.Name, "match", p.Match, "err", err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		mm.placer.Abandon(ctx, r.q, p, backfill)
		cancel()
		return
	}
	for _, ft := range done {
		mm.metrics.outcomes.WithLabelValues(r.q.Name, string(Matched)).Inc()
		mm.metrics.timeToMatch.WithLabelValues(r.q.Name).Observe(now.Sub(ft.Created).Seconds())
		mm.changed(ft)
	}
}

// failed puts the tickets back after a pause (so a failing placer is not retried in a loop).
func (r *runner) failed(ids []string, err error) {
	r.mm.metrics.placementFailures.WithLabelValues(r.q.Name).Inc()
	r.mm.log.Warn("matchmaking: placement failed, the tickets search on", "queue", r.q.Name, "tickets", len(ids), "err", err)
	select {
	case <-time.After(500 * time.Millisecond):
	case <-r.mm.stop:
	}
	_ = r.mm.store.Requeue(context.Background(), ids)
	r.wantFull()
}
