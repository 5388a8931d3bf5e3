package matchmaking

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
)

// AttachOptions are Attach's optional parts.
type AttachOptions struct {
	Log *slog.Logger // default slog.Default()
	// Store is where tickets live: default in memory (one instance); a RedisStore shares the
	// queues between instances, one matcher per queue under a lease.
	Store Store
	Owner string // the lease owner name (default the server's node id plus a random suffix)
}

// Attach builds a matchmaker for srv (matches are placed on srv), mounts its HTTP API, pushes
// ticket changes to the players' sessions as EVENT TICKET, keeps a waiting player's idle
// connection open, registers its metrics and starts it. Close it before shutting srv down
// (long-polls end at once).
func Attach(srv *server.Server, cfg Config, o AttachOptions) (*Matchmaker, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	if o.Owner == "" {
		o.Owner = srv.NodeID() + "-" + rand.Text()[:8]
	}
	metrics := NewMetrics()
	var placer Placer = NewLocalPlacer(srv)
	if _, shared := o.Store.(Leaser); shared {
		placer = NewClusterPlacer(srv) // matches go to the least loaded instance
	}
	rs, _ := o.Store.(*RedisStore)
	if rs != nil {
		c, err := cfg.withDefaults()
		if err != nil {
			return nil, err
		}
		// Backfill across the cluster: the matcher offers every instance's open matches.
		placer = NewClusterBackfill(placer, rs, srv, c.MaxOpen, c.LeaseTTL.D(), log, metrics)
	}
	if err := metrics.Register(srv.Metrics()); err != nil {
		return nil, err
	}
	if cp, ok := placer.(*ClusterPlacer); ok {
		cp.phase = metrics.phase
	}
	var mm *Matchmaker
	mm, err := New(cfg, Options{
		Placer:  placer,
		Store:   o.Store,
		Owner:   o.Owner,
		Log:     log,
		Metrics: metrics,
		Notify: func(player string, t *Ticket) {
			if !srv.Connected(player) {
				return // every change of every instance's tickets comes here (the feed): most players are elsewhere
			}
			q, _ := mm.Queue(t.Queue)
			data, err := protocol.Marshal(View(t, q, player, "", mm.now()))
			if err != nil {
				log.Error("matchmaking: cannot encode a ticket event", "err", err)
				return
			}
			srv.Notify(player, protocol.EventTicket, data)
		},
	})
	if err != nil {
		return nil, err
	}
	for _, q := range mm.cfg.Queues {
		if _, ok := srv.Registry().Catalog().Lookup(q.Game); !ok {
			return nil, fmt.Errorf("%w: queue %q: no game %q (games: %s)", ErrConfig, q.Name, q.Game, strings.Join(srv.Registry().Catalog().Names(), ", "))
		}
	}
	srv.SetIdleHold(mm.Searching)
	mm.Mount(srv)
	mm.Start()
	var backfillQueues []*Queue
	for i := range mm.cfg.Queues {
		if mm.cfg.Queues[i].Backfill {
			backfillQueues = append(backfillQueues, &mm.cfg.Queues[i])
		}
	}
	if rs != nil && len(backfillQueues) > 0 {
		// This instance's matchmaking matches with free seats, on the board every matcher reads.
		pub := &openPublisher{store: rs, reg: srv.Registry(), node: srv.NodeID(), queues: backfillQueues,
			every: mm.cfg.BackfillEvery.D(), ttl: mm.cfg.LeaseTTL.D(), log: log, m: metrics}
		mm.wg.Add(1)
		go func() {
			defer mm.wg.Done()
			pub.run(mm.stop, mm.crashed.Load)
		}()
	}
	return mm, nil
}
