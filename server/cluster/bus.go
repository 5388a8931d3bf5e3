package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/checkpoint"
)

// BusConfig configures the cluster bus. Broker and Directory are required; every other zero
// value is the default beside it.
type BusConfig struct {
	Broker    Broker
	Directory Directory
	Names     Names    // must match the directory's
	Metrics   *Metrics // the substrate's metrics (registered by the bus when non-nil)
	Version   string   // reported in the node registry

	Heartbeat   time.Duration // node heartbeat and lease refresh period; default 1s (TTLs are 3 s)
	Liveness    time.Duration // how often relayed matches check that their owner lives; default 1s
	RPCTimeout  time.Duration // deadline of an answered request (info, reserve, publish); default 2s
	JoinTimeout time.Duration // a relayed JOIN unanswered this long fails with TIMEOUT; default 5s
	RepairRetry time.Duration // a repair (or relayed SYNC) unanswered this long is asked again; default 500ms
	Shards      int           // publisher and receiver goroutines (order is kept per match); default 4
	QueueLen    int           // messages queued per shard (overflow: dropped, counted, repaired); default 4096
	// Capacity is the sessions this instance is sized for: Load = sessions/Capacity, which
	// placement compares. Default 20000 (the server's default connection cap).
	Capacity int
	// Checkpoints is where the cluster's match checkpoints are (the store of the
	// server/checkpoint.Writer given to server.Config.Checkpoints). With it, a match whose
	// owner died is claimed and restored here (failover.go) and a drain hands matches to
	// other instances (handoff.go); nil: they end LOST / STOPPED.
	Checkpoints checkpoint.Store
	// LeaseTTL is the directory's lease lifetime (DirectoryConfig.LeaseTTL); default
	// DefaultLeaseTTL. A lease is judged gone only after the bus has been healthy this long
	// plus a second (failover.go).
	LeaseTTL time.Duration
	// HandoffTimeout bounds one match's hand-off at drain (handoff.go); default 5s.
	HandoffTimeout time.Duration
	// FailoverWait is how long relayed players wait for a new owner of a match whose lease is
	// gone before it ends LOST; default 10s.
	FailoverWait time.Duration

	ownsSubstrate bool // Close closes Broker and Directory too (NewRedisBus)
}

func (c BusConfig) withDefaults() BusConfig {
	if c.Heartbeat <= 0 {
		c.Heartbeat = time.Second
	}
	if c.Liveness <= 0 {
		c.Liveness = time.Second
	}
	if c.RPCTimeout <= 0 || c.RPCTimeout > DefaultTimeout {
		c.RPCTimeout = DefaultTimeout
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = 5 * time.Second
	}
	if c.RepairRetry <= 0 {
		c.RepairRetry = 500 * time.Millisecond
	}
	if c.Shards <= 0 {
		c.Shards = 4
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 4096
	}
	if c.Capacity <= 0 {
		c.Capacity = 20000
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.HandoffTimeout <= 0 {
		c.HandoffTimeout = 5 * time.Second
	}
	if c.FailoverWait <= 0 {
		c.FailoverWait = 10 * time.Second
	}
	return c
}

// NewBus returns the factory that server.Config.Bus takes: the bus is built when the server
// starts (it needs the server's registry, node name and public URL).
func NewBus(cfg BusConfig) server.BusFactory {
	return func(env server.BusEnv) (server.Bus, error) { return newBus(cfg, env) }
}

// Bus implements server.Bus over a Broker and a Directory: matches owned here are claimed in
// the directory and relayed to the instances that have members of them; matches owned
// elsewhere are reached through a relay (relay_remote.go). See the package doc.
type Bus struct {
	cfg   BusConfig
	env   server.BusEnv
	node  string
	log   *slog.Logger
	m     *relayMetrics
	names Names

	pub  []chan pubJob // publisher shards (rpc.go)
	recv []chan recvJob
	stop chan struct{}
	wg   sync.WaitGroup

	nextID atomic.Uint64 // sink ids and request ids

	mu      sync.Mutex
	owned   map[string]*ownerRelay  // local matches with a remote audience (relay_owner.go)
	remotes map[string]*remoteMatch // matches owned elsewhere with local members (relay_remote.go)
	calls   map[uint64]chan wmsg    // answered requests in flight
	epochs  map[string]uint32       // local matches announced, by id
	closed  bool

	fo      failoverState                // failover.go
	guard   leaseGuard                   // lease_guard.go
	nodes   atomic.Pointer[[]NodeInfo]   // the live nodes as of the last heartbeat
	placed  placedSeats                  // seats placed on each node lately (place.go)
	admin   atomic.Pointer[AdminHandler] // HandleAdmin (admin.go)
	started time.Time
	live    struct {
		sync.Mutex
		known   map[string]bool      // nodes seen in the registry or owning a relayed match
		missing map[string]time.Time // known nodes absent from the registry, since
		lastOK  time.Time            // the last successful read of the registry
	}
}

var _ server.Bus = (*Bus)(nil)

func newBus(cfg BusConfig, env server.BusEnv) (*Bus, error) {
	cfg = cfg.withDefaults()
	if cfg.Broker == nil || cfg.Directory == nil {
		return nil, errors.New("cluster: BusConfig needs a Broker and a Directory")
	}
	if err := validName(env.Node); err != nil {
		return nil, fmt.Errorf("cluster: node name: %w", err)
	}
	b := &Bus{cfg: cfg, env: env, node: env.Node, log: env.Log, names: cfg.Names, stop: make(chan struct{}),
		owned: map[string]*ownerRelay{}, remotes: map[string]*remoteMatch{}, calls: map[uint64]chan wmsg{},
		epochs: map[string]uint32{}, started: time.Now()}
	b.live.known, b.live.missing = map[string]bool{}, map[string]time.Time{}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.log = b.log.With("node", b.node)
	b.m = newRelayMetrics(b)
	b.fo.m = newFailoverMetrics()
	b.fo.healthySince.Store(time.Now().UnixNano())
	b.guard.aliveAt.Store(time.Now().UnixNano())
	b.guard.wake = make(chan struct{}, 1)
	if env.Metrics != nil {
		for _, c := range append(b.m.collectors(), b.fo.m.collectors()...) {
			if err := env.Metrics.Register(c); err != nil {
				return nil, err
			}
		}
		if cfg.Metrics != nil {
			for _, c := range cfg.Metrics.Collectors() {
				_ = env.Metrics.Register(c) // already registered when the caller shares them
			}
		}
	}
	for i := 0; i < cfg.Shards; i++ {
		p := make(chan pubJob, cfg.QueueLen)
		r := make(chan recvJob, cfg.QueueLen)
		b.pub = append(b.pub, p)
		b.recv = append(b.recv, r)
		b.wg.Add(2)
		go b.publisher(p)
		go b.receiver(r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.RPCTimeout)
	defer cancel()
	if err := cfg.Broker.Subscribe(ctx, b.names.Node(b.node), b.onNodeMessage); err != nil {
		b.log.Warn("cluster: node channel subscription pending", "err", err)
	}
	cfg.Broker.OnReconnect(b.repairAll)
	cfg.Broker.OnReconnect(b.unsettle)
	b.heartbeat()
	b.wg.Add(2)
	go b.loop()
	go b.watchdog()
	return b, nil
}

// shard picks the goroutine that carries match id's traffic (its order is kept there).
func (b *Bus) shard(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % uint32(len(b.pub)))
}

func (b *Bus) owner() server.Owner { return server.Owner{Node: b.node, Address: b.env.PublicURL} }

// Locate finds a local match in the registry, or a remote one in the directory.
func (b *Bus) Locate(ctx context.Context, id string) (server.MatchHandle, error) {
	if m, ok := b.env.Registry.Get(id); ok {
		return server.LocalHandle(m, b.owner()), nil
	}
	lctx, cancel := context.WithTimeout(ctx, b.cfg.RPCTimeout)
	defer cancel()
	e, err := b.cfg.Directory.Lookup(lctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		// No live lease: a match that ended, or one whose owner died (failover.go).
		return b.recoverMatch(ctx, id)
	case err != nil:
		return nil, fmt.Errorf("%w: directory: %v", server.ErrUnavailable, err)
	case e.Node == b.node:
		return nil, fmt.Errorf("%w %q", server.ErrNoMatch, id) // our old lease: the match ended here
	}
	return &remoteHandle{b: b, e: e}, nil
}

// HandleAt is the handle of match id running on node (at address), made without a directory
// lookup (server.Server.MatchAt: a placement that has just created the match there).
func (b *Bus) HandleAt(id, node, address string) server.MatchHandle {
	if m, ok := b.env.Registry.Get(id); ok {
		return server.LocalHandle(m, b.owner())
	}
	return &remoteHandle{b: b, e: MatchEntry{ID: id, Node: node, Address: address}}
}

// List walks the directory (every instance's matches) and filters like game.Registry.Page. The
// cursor (opaque to clients) is the creation time and id of the last match of the page before.
func (b *Bus) List(ctx context.Context, f game.Filter, cursor string) ([]server.MatchInfo, string, error) {
	var afterAt int64
	var afterID string
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		at, id, ok := strings.Cut(string(raw), "/")
		n, perr := strconv.ParseInt(at, 10, 64)
		if err != nil || !ok || perr != nil {
			return nil, "", fmt.Errorf("%w: invalid cursor", server.ErrBadRequest)
		}
		afterAt, afterID = n, id
	}
	dcursor := ""
	var out []server.MatchInfo
	for page := 0; page < 100; page++ {
		lctx, cancel := context.WithTimeout(ctx, b.cfg.RPCTimeout)
		es, next, err := b.cfg.Directory.List(lctx, dcursor, MaxListLimit)
		cancel()
		if err != nil {
			return nil, "", fmt.Errorf("%w: directory: %v", server.ErrUnavailable, err)
		}
		for _, e := range es {
			i := e.Info
			if at := i.CreatedAt.UnixNano(); cursor != "" && (at < afterAt || (at == afterAt && i.ID <= afterID)) {
				continue
			}
			if f.Matches(i) {
				if m, local := b.env.Registry.Get(e.ID); local {
					i = m.Info() // fresher than the last refresh
				}
				out = append(out, server.MatchInfo{Info: i, Owner: server.Owner{Node: e.Node, Address: e.Address}})
			}
		}
		if next == "" {
			break
		}
		dcursor = next
	}
	sort.Slice(out, func(a, c int) bool {
		if !out[a].CreatedAt.Equal(out[c].CreatedAt) {
			return out[a].CreatedAt.Before(out[c].CreatedAt)
		}
		return out[a].ID < out[c].ID
	})
	next := ""
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(last.CreatedAt.UnixNano(), 10) + "/" + last.ID))
	}
	return out, next, nil
}

// Announce claims local match id in the directory (this instance, its address, its epoch).
func (b *Bus) Announce(ctx context.Context, id string) error {
	m, ok := b.env.Registry.Get(id)
	if !ok {
		return fmt.Errorf("%w %q", server.ErrNoMatch, id)
	}
	e := b.entry(m)
	if err := b.cfg.Directory.Claim(ctx, e); err != nil {
		return err
	}
	b.mu.Lock()
	b.epochs[id] = e.Epoch
	b.mu.Unlock()
	return nil
}

func (b *Bus) entry(m *game.Match) MatchEntry {
	i := m.Info()
	return MatchEntry{ID: i.ID, Game: i.Game, Node: b.node, Address: b.env.PublicURL, Epoch: i.Epoch, Info: i}
}

// Withdraw releases the lease of a local match that ended (in the background: never blocks).
func (b *Bus) Withdraw(id string) {
	b.mu.Lock()
	epoch, ok := b.epochs[id]
	delete(b.epochs, id)
	r := b.owned[id]
	delete(b.owned, id)
	closed := b.closed
	b.mu.Unlock()
	if r != nil {
		r.close()
	}
	if !ok || closed {
		return
	}
	b.goTracked(func() {
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.RPCTimeout)
		defer cancel()
		if b.cfg.Checkpoints != nil {
			// The checkpoint goes (a tombstone of this epoch) before the lease: a claimer that
			// finds no lease must not find the checkpoint of a match that ended. A later epoch
			// (the match restored or handed elsewhere) is not touched.
			if err := b.cfg.Checkpoints.Delete(ctx, id, epoch); err != nil {
				b.log.Warn("cluster: checkpoint not deleted", "match", id, "err", err)
			}
		}
		if err := b.cfg.Directory.Release(ctx, id, b.node, epoch); err != nil {
			b.log.Warn("cluster: release failed (the lease expires by itself)", "match", id, "err", err)
		}
	})
}

// goTracked runs f in a goroutine Close waits for, unless Close has begun.
func (b *Bus) goTracked(f func()) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
	return true
}

// Place picks the least loaded live instance (this one on a tie or when the registry is
// unknown).
func (b *Bus) Place(context.Context) (server.NodeLoad, error) {
	best := server.NodeLoad{Node: b.node, Address: b.env.PublicURL, Load: b.load()}
	if ns := b.nodes.Load(); ns != nil {
		for _, n := range *ns {
			if n.Name != b.node && n.Address != "" && n.Health != "draining" && n.Load < best.Load {
				best = server.NodeLoad{Node: n.Name, Address: n.Address, Load: n.Load}
			}
		}
	}
	return best, nil
}

// Tickets is the directory's single-use keys.
func (b *Bus) Tickets() server.TicketLedger { return ledger{b.cfg.Directory} }

type ledger struct{ d Directory }

func (l ledger) UseOnce(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return l.d.UseOnce(ctx, key, ttl)
}

// Health is the broker's health.
func (b *Bus) Health() error { return b.cfg.Broker.Health() }

// Close stops the bus: relayed members get END (LOST), leases are released, goroutines end.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	remotes := make([]*remoteMatch, 0, len(b.remotes))
	for _, r := range b.remotes {
		remotes = append(remotes, r)
	}
	b.mu.Unlock()
	for _, r := range remotes {
		r.lost("this instance is shutting down")
	}
	close(b.stop)
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.RPCTimeout)
	defer cancel()
	_ = b.cfg.Broker.Unsubscribe(ctx, b.names.Node(b.node))
	b.wg.Wait()
	if b.cfg.ownsSubstrate {
		return errors.Join(b.cfg.Broker.Close(), b.cfg.Directory.Close())
	}
	return nil
}

func (b *Bus) load() float64 {
	s := 0
	if b.env.Sessions != nil {
		s = b.env.Sessions()
	}
	return float64(s) / float64(b.cfg.Capacity)
}

// loop runs the heartbeat (node registry, lease refresh) and the liveness checks.
func (b *Bus) loop() {
	defer b.wg.Done()
	hb := time.NewTicker(b.cfg.Heartbeat)
	defer hb.Stop()
	live := time.NewTicker(b.cfg.Liveness)
	defer live.Stop()
	retry := time.NewTicker(b.cfg.RepairRetry / 2)
	defer retry.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-hb.C:
			b.heartbeat()
		case <-b.guard.wake:
			b.heartbeat()
		case <-live.C:
			b.observeHealth()
			b.checkLiveness()
		case <-retry.C:
			for _, rm := range b.remoteList() {
				rm.retry()
			}
		}
	}
}

// heartbeat writes this node's registry key with its load, refreshes the leases of the local
// matches (dropping those the directory says another holds), and caches the live nodes.
func (b *Bus) heartbeat() {
	started := time.Now().UnixNano()
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.RPCTimeout)
	defer cancel()
	var stopped []*game.Match
	defer func() {
		// A hold (lease_guard.go) ends once the copies whose lease is lost have stopped.
		wctx, wcancel := context.WithTimeout(context.Background(), time.Second)
		defer wcancel()
		for _, m := range stopped {
			select {
			case <-m.Done():
			case <-wctx.Done():
			}
		}
		b.releaseHold(started)
	}()
	n := NodeInfo{Name: b.node, Address: b.env.PublicURL, Version: b.cfg.Version, Matches: b.env.Registry.Len(),
		Load: b.load(), Started: b.started}
	if b.env.Sessions != nil {
		n.Sessions = b.env.Sessions()
	}
	if b.env.Stats != nil {
		st := b.env.Stats()
		n.Players, n.CPU, n.Memory, n.TickP99, n.Overruns = st.Players, st.CPU, st.Memory, st.TickP99.Seconds(), st.Overruns
		n.Sampled = time.Now()
	}
	if err := b.cfg.Broker.Health(); err != nil {
		n.Health = err.Error()
	}
	if b.fo.draining.Load() {
		n.Health = "draining" // not a hand-off target (handoff.go)
	}
	if err := b.cfg.Directory.Heartbeat(ctx, n); err != nil {
		b.log.Warn("cluster: heartbeat failed", "err", err)
	}
	var es []MatchEntry
	// A hand-off releases a lease under refreshMu: a refresh in flight with the old list would
	// take it back (handoff.go).
	b.fo.refreshMu.Lock()
	b.mu.Lock()
	ids := make([]string, 0, len(b.epochs))
	for id := range b.epochs {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	for _, id := range ids {
		if m, ok := b.env.Registry.Get(id); ok {
			es = append(es, b.entry(m))
		}
	}
	for len(es) > 0 {
		batch := es[:min(len(es), MaxRefreshBatch)]
		es = es[len(batch):]
		lost, err := b.cfg.Directory.Refresh(ctx, b.node, batch)
		if err != nil {
			b.log.Warn("cluster: lease refresh failed", "err", err)
			break
		}
		for _, id := range lost {
			// Another instance (or a newer epoch) holds it now: this copy must not go on
			// answering as the owner. END MOVED: the match goes on there (its players resume
			// it anywhere; relaying instances follow the new owner).
			b.log.Warn("cluster: lease lost, stopping the local copy", "match", id)
			if m, ok := b.env.Registry.Get(id); ok {
				b.fo.m.stopped.Inc()
				m.Stop(protocol.EndMoved)
				stopped = append(stopped, m)
			}
		}
	}
	b.fo.refreshMu.Unlock()
	if ns, err := b.cfg.Directory.Nodes(ctx); err == nil {
		b.nodes.Store(&ns)
		b.observe(ns)
		b.m.setNodes(ns)
	}
}

// observe records a successful read of the node registry. A node counts as dead only once it
// has been missing from reads that succeeded over a whole NodeTTL: while Redis is unreachable
// nobody is declared dead, and after Redis comes back (its keys lost) every node has a
// heartbeat period to write its key again before it is missed.
func (b *Bus) observe(ns []NodeInfo) {
	now := time.Now()
	b.live.Lock()
	defer b.live.Unlock()
	b.live.lastOK = now
	present := make(map[string]bool, len(ns))
	for _, n := range ns {
		present[n.Name] = true
		b.live.known[n.Name] = true
		delete(b.live.missing, n.Name)
	}
	for name := range b.live.known {
		if !present[name] {
			if _, ok := b.live.missing[name]; !ok {
				b.live.missing[name] = now
			}
		}
	}
}

// know adds node to the nodes watched for liveness (the owner of a match relayed here).
func (b *Bus) know(node string) {
	b.live.Lock()
	b.live.known[node] = true
	b.live.Unlock()
}

// alive reports whether node is alive as far as the registry says (see observe).
func (b *Bus) alive(node string) bool {
	b.live.Lock()
	defer b.live.Unlock()
	since, missing := b.live.missing[node]
	return !missing || b.live.lastOK.Sub(since) < DefaultNodeTTL
}

// checkLiveness ends relayed matches whose owner is gone and drops the remote members of
// local matches whose instance is gone.
func (b *Bus) checkLiveness() {
	remotes := b.remoteList()
	b.mu.Lock()
	owned := make([]*ownerRelay, 0, len(b.owned))
	for _, r := range b.owned {
		owned = append(owned, r)
	}
	b.mu.Unlock()
	for _, r := range remotes {
		r.check()
	}
	for _, r := range owned {
		r.dropDeadNodes()
		r.beat()
	}
}

func (b *Bus) remoteList() []*remoteMatch {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*remoteMatch, 0, len(b.remotes))
	for _, r := range b.remotes {
		out = append(out, r)
	}
	return out
}
