package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/console"
	"github.com/tickrelay/tickrelay/server/matchmaking"
)

// Main runs a tickrelay server configured by args (without the program name) and TICKRELAY_*
// variables, serving the built-in games plus games, until SIGINT or SIGTERM; a second signal
// exits at once. --help and --version print and return nil.
func Main(args []string, games ...game.GameType) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, Options{Games: games, OnSignal: stop, Procs: true})
}

// Options are what Run takes beyond the command line.
type Options struct {
	Games  []game.GameType // served beside the built-in games (a duplicate name is an error)
	Stdout io.Writer       // --help and --version; default os.Stdout
	Stderr io.Writer       // logs; default os.Stderr
	// Ready, when set, is called with the started server (tests read its address).
	Ready func(*server.Server)
	// OnSignal, when set, is called once ctx is done, before the shutdown starts. Main uses it
	// to restore the default signal handling, so a second Ctrl-C kills a slow shutdown.
	OnSignal func()
	// Procs applies --gomaxprocs (default auto: server/procs' policy). Main sets it: the policy
	// changes the whole process's GOMAXPROCS, so servers run inside tests (several per process)
	// leave it alone unless --gomaxprocs is given.
	Procs bool
}

// Run is Main with a context of its own: it serves until ctx is done, then shuts down.
func Run(ctx context.Context, args []string, opt Options) error {
	if opt.Stdout == nil {
		opt.Stdout = os.Stdout
	}
	if opt.Stderr == nil {
		opt.Stderr = os.Stderr
	}
	o, err := parseFlags(args, opt.Stdout)
	if errors.Is(err, errExit) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg, err := o.config(opt)
	if err != nil {
		return err
	}
	mcfg, err := o.matchmaking()
	if err != nil {
		return err
	}
	defer o.closeCheckpoints() // after the server: the checkpoints of its last ticks are stored or deleted
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	if o.cpWriter != nil {
		for _, c := range o.cpWriter.Collectors() {
			if err := srv.Metrics().Register(c); err != nil {
				return err
			}
		}
	}
	store, closeStore, err := o.ticketStore(mcfg, cfg.Log)
	if err != nil {
		return err
	}
	defer closeStore()
	mm, err := matchmaking.Attach(srv, mcfg, matchmaking.AttachOptions{Log: cfg.Log, Store: store})
	if err != nil {
		return err
	}
	// The console's drain is the same graceful shutdown as SIGTERM: it ends this Run.
	ctx, drain := context.WithCancel(ctx)
	defer drain()
	con, err := o.console(srv, cfg, drain)
	if err != nil {
		mm.Close()
		return err
	}
	if con != nil {
		defer con.Close()
	}
	stopProcs, err := startProcs(o.gomaxprocs, opt.Procs || o.given["gomaxprocs"], srv, cfg.Log)
	if err != nil {
		mm.Close()
		return err
	}
	defer stopProcs()
	if err := srv.Start(); err != nil {
		mm.Close()
		return err
	}
	cfg.Log.Info("tickrelay started", "version", Version(), "games", strings.Join(cfg.Catalog.Names(), ","))
	base := "http://" + srv.Addr().String()
	if cfg.TLSCert != "" {
		base = "https://" + srv.Addr().String()
	}
	if cfg.DemoDir != "" {
		cfg.Log.Info("demo ready: open " + base + "/ in a browser")
	}
	cfg.Log.Info("try: curl -s -X POST " + base + "/v1/auth/guest")
	if con != nil && srv.AdminAddr() != nil {
		cfg.Log.Info("operator console: http://" + srv.AdminAddr().String() + "/console/ (log in with the --api-key)")
	}
	if opt.Ready != nil {
		opt.Ready(srv)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for waiting := true; waiting; {
		select {
		case <-hup:
			_ = srv.ReloadTLS() // logs the outcome
		case <-ctx.Done():
			waiting = false
		}
	}
	if opt.OnSignal != nil {
		opt.OnSignal()
	}
	cfg.Log.Info("signal received, shutting down (a second signal exits at once)")
	mm.Close() // long-polls answer at once; placements in progress finish
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace+10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// mmPool is the matchmaker's Redis connections (per node of a cluster): placements run up to
// max_placements at once and each finishes in a transaction that holds a connection.
const mmPool = 128

// ticketStore is where matchmaking tickets and parties live: in Redis with --redis or
// --redis-cluster (the queues and parties are shared by every instance, one matcher per queue
// under a lease; with a Redis Cluster each queue lives in one hash slot), else in memory.
func (o *options) ticketStore(c matchmaking.Config, log *slog.Logger) (matchmaking.Store, func(), error) {
	nop := func() {}
	var rdb redis.UniversalClient
	switch {
	case o.redisCluster != "":
		var addrs []string
		for _, a := range strings.Split(o.redisCluster, ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, a)
			}
		}
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 3, PoolSize: mmPool})
	case o.redis != "":
		opts := &redis.Options{Addr: o.redis}
		if strings.Contains(o.redis, "://") {
			var err error
			if opts, err = redis.ParseURL(o.redis); err != nil {
				return nil, nop, fmt.Errorf("--redis: %w", err)
			}
		}
		if opts.PoolSize == 0 {
			opts.PoolSize = mmPool
		}
		rdb = redis.NewClient(opts)
	default:
		return nil, nop, nil
	}
	retain := c.Retain.D()
	if retain <= 0 {
		retain = 5 * time.Minute
	}
	maxLive := c.MaxTickets
	if maxLive <= 0 {
		maxLive = o.mmMax
	}
	s, err := matchmaking.NewRedisStore(rdb, "tickrelay:mm:", maxLive, retain, log)
	if err != nil {
		_ = rdb.Close()
		return nil, nop, err
	}
	return s, func() { _ = s.Close(); _ = rdb.Close() }, nil
}

// console builds and mounts the operators' console on the admin listener when there is an
// operator key and an admin listener (nil, nil otherwise).
func (o *options) console(srv *server.Server, cfg server.Config, drain func()) (*console.Console, error) {
	if cfg.APIKey == "" || cfg.Admin == "" {
		return nil, nil
	}
	c, err := console.New(console.Config{Server: srv, Key: cfg.APIKey, Log: cfg.Log, Version: Version(), Drain: drain,
		SessionTTL: o.consoleTTL, LoginFailures: o.consoleFailures})
	if err != nil {
		return nil, err
	}
	c.Mount()
	return c, nil
}

// matchmaking is the matchmaker's config: the --matchmaking file (or the built-in queues) with
// --ticket-ttl and --max-tickets where the file sets none.
func (o *options) matchmaking() (matchmaking.Config, error) {
	var c matchmaking.Config
	if o.mmFile != "" {
		var err error
		if c, err = matchmaking.Load(o.mmFile); err != nil {
			return c, fmt.Errorf("--matchmaking %s: %w", o.mmFile, err)
		}
	}
	if o.given["ticket-ttl"] || c.TicketTTL == 0 {
		c.TicketTTL = matchmaking.Duration(o.mmTTL)
	}
	if o.given["max-tickets"] || c.MaxTickets == 0 {
		c.MaxTickets = o.mmMax
	}
	return c, nil
}

// config turns parsed options into a server.Config: logger, secret, origins, catalog.
func (o *options) config(opt Options) (server.Config, error) {
	cfg := o.cfg
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		cfg.Log = slog.New(slog.NewTextHandler(opt.Stderr, hopts))
	case "json":
		cfg.Log = slog.New(slog.NewJSONHandler(opt.Stderr, hopts))
	default:
		return cfg, fmt.Errorf("--log-format %q: want text or json", o.logFormat)
	}
	secret, err := secretFrom(o.given, cfg.Log, "secret", o.secret, o.secretFile)
	if err != nil {
		return cfg, err
	}
	cfg.Secret = []byte(secret)
	if cfg.APIKey, err = secretFrom(o.given, cfg.Log, "api-key", cfg.APIKey, o.apiKeyFile); err != nil {
		return cfg, err
	}
	cfg.DisableGuest = o.noGuest
	cfg.Version = Version()
	cfg.AdminOptional = !o.adminGiven
	if o.origins != "" {
		for _, s := range strings.Split(o.origins, ",") {
			if s = strings.TrimSpace(s); s != "" {
				cfg.AllowedOrigins = append(cfg.AllowedOrigins, s)
			}
		}
	}
	if o.proxies != "" {
		cfg.TrustedProxies = strings.Split(o.proxies, ",")
	}
	if err := o.clusterBus(&cfg); err != nil {
		return cfg, err
	}
	cfg.Catalog = server.DefaultCatalog()
	for _, g := range opt.Games {
		if g.Name == "" || g.New == nil {
			return cfg, errors.New("a game type needs a Name and a New factory")
		}
		if _, dup := cfg.Catalog.Lookup(g.Name); dup {
			return cfg, fmt.Errorf("game %q is registered twice (built-in games: %s)", g.Name, strings.Join(server.DefaultCatalog().Names(), ", "))
		}
		cfg.Catalog.Register(g)
	}
	return cfg, nil
}
