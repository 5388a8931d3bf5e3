package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/arena"
	"github.com/tickrelay/tickrelay/game/duel"
	"github.com/tickrelay/tickrelay/game/relay"
	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server/auth"
)

// Server is one tickrelay instance: the HTTP API, the WebSocket endpoint, the match registry
// and the bus. Build it with New, run it with Serve (or Start), stop it with Shutdown.
type Server struct {
	cfg          Config
	log          *slog.Logger
	reg          *game.Registry
	bus          Bus
	res          *Reservations
	auth         *auth.Authority
	hub          *hub
	conns        *connCounter
	guests       *keyLimiter   // guest tokens per client IP
	created      *matchQuota   // live matches per creating user
	sse          *sseHub       // SSE feeds, one per streamed match
	certs        *certReloader // TLS certificate (nil: plain HTTP)
	proxies      proxies       // trusted reverse proxies
	metrics      *metrics
	upgrader     *gws.Upgrader
	mux          *http.ServeMux
	adminMux     *http.ServeMux // HandleAdmin
	adminHandler http.Handler
	handler      http.Handler
	idleHold     atomic.Pointer[func(user string) bool] // SetIdleHold
	started      time.Time
	cpu          cpuMeter // Stats (nodestats.go)

	http      *http.Server
	admin     *http.Server
	draining  atomic.Bool
	wg        sync.WaitGroup // read loops, SSE streams, janitor, ping wheel
	pinger    *pinger        // pings every session every PingInterval (pinger.go)
	tickWatch tickWatch      // parked tick readers whose match may have stopped ticking (tickread_watch.go)
	stop      chan struct{}  // closed when sessions are being closed (phase 3)
	drain     chan struct{}  // closed when shutdown starts: SSE streams end at once
	addr      atomic.Value   // net.Addr once listening
	adminAddr atomic.Value   // net.Addr of the admin listener once listening

	shutdownOnce sync.Once
	shutdownErr  error

	trackMu  sync.Mutex // guards stopping, so wg.Add never races wg.Wait
	stopping bool
}

// track runs f in a goroutine counted in wg, unless shutdown has reached its final wait; then
// it reports false and runs nothing. (Hijacked WebSockets and SSE streams outlive what
// http.Server.Shutdown waits for, so they are counted here.)
func (srv *Server) track(f func()) bool {
	srv.trackMu.Lock()
	defer srv.trackMu.Unlock()
	if srv.stopping {
		return false
	}
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		f()
	}()
	return true
}

// DefaultCatalog returns a catalog with the built-in games: arena, relay and duel.
func DefaultCatalog() *game.Catalog {
	c := game.NewCatalog()
	c.Register(arena.Type)
	c.Register(relay.Type)
	c.Register(duel.Type)
	return c
}

// New builds a server from cfg (zero values are defaults; see Config).
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if cfg.RelayBudget > cfg.OutboundQueue/2 {
		return nil, fmt.Errorf("server: the relay budget (%d bytes) must be at most half the outbound queue (%d bytes): a tick's messages reach each recipient in one frame", cfg.RelayBudget, cfg.OutboundQueue)
	}
	if cfg.ReadMode != ReadModeLoop && cfg.ReadMode != ReadModeTick {
		return nil, fmt.Errorf("server: read mode %q: want %q or %q", cfg.ReadMode, ReadModeLoop, ReadModeTick)
	}
	if cfg.RelayShare > cfg.RelayBudget {
		return nil, fmt.Errorf("server: the relay share (%d bytes) must be at most the relay budget (%d bytes)", cfg.RelayShare, cfg.RelayBudget)
	}
	srv := &Server{cfg: cfg, log: cfg.Log, started: time.Now(), hub: newHub(cfg.ResumeWindow), pinger: newPinger(cfg.PingInterval), stop: make(chan struct{}), drain: make(chan struct{}),
		conns:  newConnCounter(cfg.MaxConns, cfg.MaxConnsPerUser, cfg.MaxConnsPerIP),
		guests: newKeyLimiter(cfg.GuestRate, cfg.GuestBurst), created: newMatchQuota(cfg.MaxMatchesPerUser)}
	srv.sse = &sseHub{srv: srv, feeds: map[string]*sseFeed{}, perIP: map[string]int{}}
	var err error
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("tls: give both a certificate and a key file, or neither")
	}
	if cfg.TLSCert != "" {
		if srv.certs, err = newCertReloader(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, err
		}
	}
	if srv.proxies, err = parseProxies(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	if len(cfg.Secret) == 0 {
		srv.cfg.Secret = auth.RandomSecret()
		srv.log.Warn("no secret configured: using a random one, so tokens will not survive a restart (set --secret or TICKRELAY_SECRET)")
	}
	a, err := auth.New(auth.Config{Secret: srv.cfg.Secret, Issuer: cfg.Issuer, SessionTTL: cfg.SessionTTL, MaxSessionLifetime: cfg.MaxTokenLifetime, JoinTTL: cfg.ReservationTTL})
	if err != nil {
		return nil, err
	}
	srv.auth = a
	catalog := cfg.Catalog
	if catalog == nil {
		catalog = DefaultCatalog()
	}
	var reg *game.Registry
	srv.metrics = newMetrics(func() float64 { return float64(reg.Len()) })
	var bus atomic.Pointer[Bus]
	reg = game.NewRegistry(game.RegistryConfig{Catalog: catalog, Clock: cfg.Clock, Log: cfg.Log, Metrics: srv.metrics,
		Limits:         game.Options{RelayBudget: cfg.RelayBudget, RelayShare: cfg.RelayShare, CheckpointEvery: cfg.CheckpointEvery},
		Checkpoints:    cfg.Checkpoints,
		EndedRetention: cfg.EndedRetention,
		UnusedTimeout:  cfg.UnusedMatchTimeout,
		TickSlots:      cfg.TickSlots,
		Hold: func() bool {
			if b := bus.Load(); b != nil {
				if h, ok := (*b).(LeaseHolder); ok {
					return h.Holding()
				}
			}
			return false
		},
		OnEnded: func(id string) {
			srv.created.ended(id)
			if b := bus.Load(); b != nil {
				(*b).Withdraw(id)
			}
		}})
	srv.reg = reg
	srv.metrics.addOps(cfg.Version, func() float64 {
		n := 0
		for _, i := range reg.List(game.Filter{IncludePrivate: true}) {
			n += i.Players
		}
		return float64(n)
	})
	if cfg.Bus != nil {
		srv.bus, err = cfg.Bus(BusEnv{Registry: reg, Node: cfg.NodeID, PublicURL: cfg.PublicURL, Log: cfg.Log,
			Metrics: srv.metrics.reg, Sessions: func() int { return srv.hub.len() }, TakeSession: srv.takeSession, Stats: srv.Stats})
		if err != nil {
			return nil, fmt.Errorf("bus: %w", err)
		}
	} else {
		srv.bus = NewMemoryBus(reg, srv.owner())
	}
	bus.Store(&srv.bus)
	srv.res = NewReservations(srv.auth, srv.bus)
	srv.res.hold, srv.res.quota = cfg.ReservationTTL, newHoldQuota(cfg.MaxReservationsPerUser)
	srv.res.limited = func() { srv.metrics.limited.WithLabelValues("reservations_user").Inc() }
	srv.upgrader = srv.newUpgrader()
	srv.handler = srv.routes()
	srv.adminHandler = srv.adminRoutes()
	return srv, nil
}

// Registry is the local match registry.
func (srv *Server) Registry() *game.Registry { return srv.reg }

// Handler is the HTTP handler (API, WebSocket, demo).
func (srv *Server) Handler() http.Handler { return srv.handler }

// Addr is the listening address once Serve started.
func (srv *Server) Addr() net.Addr {
	a, _ := srv.addr.Load().(net.Addr)
	return a
}

// AdminAddr is the admin listener's address once Start opened it (nil without one).
func (srv *Server) AdminAddr() net.Addr {
	a, _ := srv.adminAddr.Load().(net.Addr)
	return a
}

// adminRoutes is the admin listener: pprof (without /debug/pprof/cmdline, which would print the
// command line, secrets included, to anyone who reaches the port), /metrics, and a /readyz with
// the instance's counts.
func (srv *Server) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimPrefix(r.URL.Path, "/debug/pprof/") == "cmdline" {
			http.NotFound(w, r) // pprof.Index would otherwise serve it by name
			return
		}
		pprof.Index(w, r)
	})
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/metrics", promHandler(srv.metrics))
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) { srv.ready(w, true) })
	srv.adminMux = mux
	return srv.metrics.instrument(mux)
}

// Start listens on cfg.Listen (and cfg.Admin) and serves in the background.
func (srv *Server) Start() error {
	ln, err := net.Listen("tcp", srv.cfg.Listen)
	if err != nil {
		return err
	}
	srv.Serve(ln)
	if srv.cfg.Admin != "" {
		aln, err := net.Listen("tcp", srv.cfg.Admin)
		if err != nil && srv.cfg.AdminOptional {
			srv.log.Warn("admin listener off: its address is taken (another instance?); set --admin to choose one", "addr", srv.cfg.Admin, "err", err)
			return nil
		}
		if err != nil {
			_ = srv.http.Close()
			return fmt.Errorf("admin listener: %w", err)
		}
		srv.adminAddr.Store(aln.Addr())
		srv.admin = &http.Server{Handler: srv.adminHandler, ReadHeaderTimeout: 5 * time.Second}
		srv.wg.Add(1)
		go func() {
			defer srv.wg.Done()
			if err := srv.admin.Serve(aln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				srv.log.Error("admin listener", "err", err)
			}
		}()
		srv.log.Info("admin listening", "addr", aln.Addr().String())
	}
	return nil
}

// Serve serves on ln in the background (tests use a 127.0.0.1:0 listener).
func (srv *Server) Serve(ln net.Listener) {
	srv.addr.Store(ln.Addr())
	ln = newFDReserveListener(ln, srv)
	if srv.certs != nil {
		ln = tls.NewListener(ln, srv.certs.tlsConfig()) // HTTPS and WSS on the same port
	}
	srv.http = &http.Server{
		Handler:           srv.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second, // SSE streams extend their own deadline per event
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(srv.log.Handler(), slog.LevelWarn),
	}
	srv.wg.Add(3)
	go func() { defer srv.wg.Done(); srv.pinger.run(srv.stop) }()
	go func() {
		defer srv.wg.Done()
		if err := srv.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			srv.log.Error("http server", "err", err)
		}
	}()
	go func() { // the janitor: expires parked sessions
		defer srv.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				srv.hub.expire(now)
				srv.tickWatch.scan(now)
				if srv.certs != nil && now.Second()%3 == 0 {
					_ = srv.ReloadTLS() // picks up a renewed certificate; logs a bad one
				}
				if now.Second()%10 == 0 {
					srv.guests.sweep()
					srv.res.quota.sweep(now)
				}
			case <-srv.stop:
				return
			}
		}
	}()
	srv.log.Info("listening", "addr", ln.Addr().String(), "node", srv.cfg.NodeID)
}

// Shutdown stops the server in phases: readiness goes false and new connections and matches
// are refused; matches get the grace period to end (members receive END); sessions still open
// are closed with the reconnectable CloseShutdown code; the bus is closed; then it waits for
// every goroutine it started, or for ctx.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.shutdownOnce.Do(func() { srv.shutdownErr = srv.shutdown(ctx) })
	return srv.shutdownErr
}

func (srv *Server) shutdown(ctx context.Context) error {
	srv.draining.Store(true)
	close(srv.drain)
	srv.log.Info("draining", "grace", srv.cfg.ShutdownGrace)
	// Tell every session first (EVENT NOTICE), so clients know the END and the close that
	// follow are a shutdown: they will reconnect (to this address or another instance).
	notice := noticeFrame(protocol.CloseShutdown, "server shutting down")
	for _, s := range srv.hub.all() {
		s.send(notice)
	}
	// Phase 0: /readyz has answered 503 since draining was set; keep serving for DrainDelay
	// so that load balancers see it before the listener goes away.
	if srv.cfg.DrainDelay > 0 {
		t := time.NewTimer(srv.cfg.DrainDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	// Phase 1: stop accepting HTTP (hijacked WebSockets are not affected by http.Server.Shutdown).
	if srv.http != nil {
		hctx, cancel := context.WithTimeout(ctx, srv.cfg.ShutdownGrace)
		_ = srv.http.Shutdown(hctx)
		cancel()
	}
	// Phase 1b (a cluster with checkpoints): hand the matches to other instances; their
	// players are closed with 4003 MOVED naming the new owner. What could not move ends below.
	hctx, hcancel := context.WithTimeout(ctx, srv.cfg.ShutdownGrace)
	srv.handOff(hctx)
	hcancel()
	// Phase 2: matches end within the grace period.
	gctx, cancel := context.WithTimeout(ctx, srv.cfg.ShutdownGrace)
	err := srv.reg.Shutdown(gctx)
	cancel()
	// Phase 3: close every session with a reconnectable code: 4003 MOVED with the owner's
	// address for a player of a match that runs elsewhere, else 4000 SHUTDOWN.
	srv.closeRelayedMoved()
	for _, s := range srv.hub.all() {
		s.close(protocol.CloseShutdown, "server shutting down")
	}
	close(srv.stop)
	if srv.admin != nil {
		_ = srv.admin.Close()
	}
	_ = srv.bus.Close()
	// Phase 4: wait for read loops, streams and the janitor; nothing new is counted from here.
	srv.trackMu.Lock()
	srv.stopping = true
	srv.trackMu.Unlock()
	done := make(chan struct{})
	go func() { srv.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	srv.log.Info("stopped")
	return err
}
