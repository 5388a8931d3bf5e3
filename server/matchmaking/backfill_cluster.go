package matchmaking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tickrelay/tickrelay/server"
)

// ClusterBackfill is the placer of a cluster (a shared store): new matches go where the inner
// placer (a ClusterPlacer) puts them; backfill offers the running matches of EVERY instance,
// read from the open-match board in Redis (backfill_redis.go, kept by each owner:
// backfill_publish.go), and reserves the seats on the match's owner through the cluster bus
// (Locate, then the server's seat reservation, all or none).
//
// Why a board kept by the owners rather than a query over the bus at each run: the matcher runs
// on every arrival, and one read of one hash in the queue's own slot costs it one round trip
// whatever the number of instances, while the owners see joins, leaves and ends first. The
// board may be a moment late; it never decides a seat: the reservation is made by the match's
// own goroutine on its owner (game.Match.Reserve), which counts players and live reservations
// and refuses a seat that a direct JOIN or another reservation took in between (ErrMatchFull),
// so a seat is never sold twice; a refused backfill puts its tickets back to searching.
//
// mu guards reads (the last read of each queue's board) and pending: the seats this matcher reserved lately, taken off the board's free seats
// until the owner's record shows them (a record written after the reservation) or they age out.
type ClusterBackfill struct {
	Placer
	store *RedisStore
	host  ClusterHost
	limit int           // records read per run (Config.MaxOpen)
	ttl   time.Duration // a record's lifetime (Config.LeaseTTL)
	log   *slog.Logger
	m     *Metrics

	mu      sync.Mutex
	offset  time.Duration                      // Redis' clock minus this one's, from the last read
	pending map[string]map[string][]reservedAt // queue → match id → seats reserved lately
	reads   map[string]boardRead               // queue → its last read of the board
}

// boardRead is one read of a queue's board.
type boardRead struct {
	recs     []OpenRecord
	redisNow int64
	at       time.Time
}

// boardReuse is how long a read of the board serves the matcher's next runs (a queue with
// tickets arriving runs its matcher many times a second; the owners write every BackfillEvery).
const boardReuse = 50 * time.Millisecond

type reservedAt struct {
	at    int64 // Redis time (ms), estimated
	seats int
}

// pendingFor is how long the matcher counts seats it reserved without the owner's record
// showing them: past it the board is trusted again (the owner rewrites within BackfillEvery).
const pendingFor = 5 * time.Second

// NewClusterBackfill wraps inner (whose Place and Abandon of new matches it keeps).
func NewClusterBackfill(inner Placer, store *RedisStore, host ClusterHost, limit int, ttl time.Duration, log *slog.Logger, m *Metrics) *ClusterBackfill {
	return &ClusterBackfill{Placer: inner, store: store, host: host, limit: limit, ttl: ttl, log: log, m: m, pending: map[string]map[string][]reservedAt{}, reads: map[string]boardRead{}}
}

// Place implements Placer: the inner placer's match, marked on the board of a backfill queue
// (only the matches the matchmaker made are offered) with its first record.
func (c *ClusterBackfill) Place(ctx context.Context, q *Queue, g Group) (Placement, error) {
	p, err := c.Placer.Place(ctx, q, g)
	if err != nil || !q.Backfill {
		return p, err
	}
	rec := OpenRecord{ID: p.Match, Node: p.Node, Game: q.Game, Region: g.Region, Skill: meanSkill(g), Free: q.Seats - g.Players, Max: q.Seats}
	if err := c.store.MarkMade(ctx, q.Name, rec, c.ttl); err != nil {
		// The players have their seats; only the backfill of this match is lost.
		c.m.openWriteErrors.Inc()
		c.log.Warn("matchmaking: cannot mark a new match for backfill", "queue", q.Name, "match", p.Match, "err", err)
	}
	return p, nil
}

// Open implements Placer: the queue's open matches across the cluster, less the seats this
// matcher reserved that their owner's record does not show yet.
func (c *ClusterBackfill) Open(q *Queue, now time.Time) []Open {
	_ = c.Placer.Open(q, now) // the inner placer's own bookkeeping of its matches (pruned here)
	c.mu.Lock()
	last, cached := c.reads[q.Name]
	c.mu.Unlock()
	var recs []OpenRecord
	var redisNow int64
	if cached && time.Since(last.at) < boardReuse {
		// Read a moment ago (the owners rewrite every BackfillEvery): the same, with the seats
		// reserved since taken off below.
		recs, redisNow = last.recs, last.redisNow+time.Since(last.at).Milliseconds()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var live int
		var err error
		recs, live, redisNow, err = c.store.ListOpen(ctx, q.Name, c.limit)
		cancel()
		if err != nil {
			c.log.Warn("matchmaking: cannot read the open matches: no backfill this run", "queue", q.Name, "err", err)
			return nil
		}
		c.m.openMatches.WithLabelValues(q.Name).Set(float64(live))
		if live > len(recs) {
			c.m.openLeftOut.WithLabelValues(q.Name).Add(float64(live - len(recs)))
		}
		c.mu.Lock()
		c.reads[q.Name] = boardRead{recs: recs, redisNow: redisNow, at: time.Now()}
		c.offset = time.Duration(redisNow-time.Now().UnixMilli()) * time.Millisecond
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Open, 0, len(recs))
	byID := make(map[string]bool, len(recs))
	pending := c.pending[q.Name]
	if pending == nil {
		pending = map[string][]reservedAt{}
		c.pending[q.Name] = pending
	}
	for _, r := range recs {
		byID[r.ID] = true
		free := r.Free
		ps := pending[r.ID][:0]
		for _, p := range pending[r.ID] {
			if redisNow-p.at > pendingFor.Milliseconds() || r.At > p.at {
				continue // aged out, or the owner's record was written after it: counted there
			}
			ps = append(ps, p)
			free -= p.seats
		}
		if len(ps) == 0 {
			delete(pending, r.ID)
		} else {
			pending[r.ID] = ps
		}
		if free > 0 && r.Game == q.Game {
			out = append(out, Open{ID: r.ID, Free: free, Skill: r.Skill, Region: r.Region})
		}
	}
	for id := range pending {
		if !byID[id] {
			delete(pending, id) // full or gone
		}
	}
	return out
}

// ErrBackfillRefused wraps the owner's refusal of a backfill seat (the match is full or ended).
var ErrBackfillRefused = errors.New("matchmaking: backfill refused by the match's owner")

// Backfill implements Placer: every player's seat in the running match, wherever it runs, all
// or none.
func (c *ClusterBackfill) Backfill(ctx context.Context, q *Queue, match string, tickets []*Ticket) (Placement, error) {
	m, err := c.host.Locate(ctx, match)
	if err != nil {
		c.m.backfillRefused.WithLabelValues(q.Name).Inc()
		return Placement{}, fmt.Errorf("%w: locate %s: %w", ErrBackfillRefused, match, err)
	}
	var players []string
	for _, t := range tickets {
		for _, mem := range t.Members {
			players = append(players, mem.ID)
		}
	}
	type res struct {
		player string
		r      server.Reservation
		err    error
	}
	ch := make(chan res, len(players))
	for _, pl := range players {
		go func() {
			r, err := c.host.ReserveSeat(ctx, m, pl, "", 0)
			ch <- res{pl, r, err}
		}()
	}
	seats := make(map[string]Seat, len(players))
	var errs []error
	for range players {
		r := <-ch
		if r.err != nil {
			errs = append(errs, fmt.Errorf("reserve %s in %s: %w", r.player, match, r.err))
			continue
		}
		seats[r.player] = Seat{Player: r.player, MatchID: r.r.MatchID, Address: r.r.Address, Ticket: r.r.Ticket, Seat: r.r.Seat, ExpiresAt: r.r.ExpiresAt}
	}
	node := m.Owner().Node
	if len(errs) > 0 {
		c.release(m, seats)
		c.m.backfillRefused.WithLabelValues(q.Name).Inc()
		return Placement{}, fmt.Errorf("%w: %w", ErrBackfillRefused, errors.Join(errs...))
	}
	c.mu.Lock()
	if c.pending[q.Name] == nil {
		c.pending[q.Name] = map[string][]reservedAt{}
	}
	c.pending[q.Name][match] = append(c.pending[q.Name][match], reservedAt{at: time.Now().Add(c.offset).UnixMilli(), seats: len(players)})
	c.mu.Unlock()
	return Placement{Match: match, Node: node, Seats: seats}, nil
}

func (c *ClusterBackfill) release(m server.MatchHandle, seats map[string]Seat) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for pl := range seats {
		_ = c.host.ReleaseSeat(ctx, m, pl)
	}
}

// Abandon implements Placer: backfilled seats are released on the match's owner.
func (c *ClusterBackfill) Abandon(ctx context.Context, q *Queue, p Placement, backfill bool) {
	if !backfill {
		c.Placer.Abandon(ctx, q, p, backfill)
		if q.Backfill { // the stopped match leaves the board at once (not when its record expires)
			_ = c.store.PutOpen(ctx, q.Name, p.Node, c.ttl, []openChange{{Delete: true, Ended: true, Rec: OpenRecord{ID: p.Match, Epoch: ^uint32(0)}}})
		}
		return
	}
	if m, err := c.host.Locate(ctx, p.Match); err == nil {
		c.release(m, p.Seats)
	}
}
