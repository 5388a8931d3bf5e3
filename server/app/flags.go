package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/checkpoint"
)

// errExit ends Run successfully before the server starts (--help, --version).
var errExit = errors.New("app: exit")

// envPrefix is the prefix of every flag's environment variable.
const envPrefix = "TICKRELAY_"

// defaultAdmin is where pprof and the admin /metrics listen unless --admin says otherwise.
// When this default address is taken (a second instance on the same machine), the instance
// logs a warning and runs without its admin listener; an --admin given explicitly is fatal.
const defaultAdmin = "127.0.0.1:6060"

// options is everything the command line says, before it becomes a server.Config.
type options struct {
	cfg             server.Config
	secret          string
	secretFile      string
	apiKeyFile      string
	origins         string
	proxies         string
	logFormat       string
	logLevel        string
	noGuest         bool
	version         bool
	mmFile          string                // --matchmaking
	mmTTL           time.Duration         // --ticket-ttl
	mmMax           int                   // --max-tickets
	redis           string                // --redis
	redisCluster    string                // --redis-cluster
	cpMaxBytes      int                   // --checkpoint-max-bytes
	cpTTL           time.Duration         // --checkpoint-ttl
	cpWriter        *checkpoint.Writer    // with --redis: stores match checkpoints (cluster.go)
	cpClient        redis.UniversalClient // its Redis client
	consoleTTL      time.Duration         // --console-session-ttl
	consoleFailures int                   // --console-login-failures
	gomaxprocs      string                // --gomaxprocs
	given           map[string]bool       // flags given on the command line
	adminGiven      bool                  // --admin or TICKRELAY_ADMIN was set
}

// parseFlags parses args, then fills every flag not on the command line from TICKRELAY_<NAME>.
// It writes --help and --version to out and returns errExit for them.
func parseFlags(args []string, out io.Writer) (*options, error) {
	o := &options{}
	cfg := &o.cfg
	fs := flag.NewFlagSet("tickrelay", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address for HTTP, the WebSocket endpoint /ws and the demo")
	fs.StringVar(&cfg.Admin, "admin", defaultAdmin, "address for pprof, /metrics and a detailed /readyz (empty: off; the default is skipped with a warning when taken)")
	fs.BoolVar(&cfg.PublicMetrics, "public-metrics", false, "also serve /metrics on --listen (default: the admin listener only)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate (chain) file: serve HTTPS and WSS on --listen; reloaded when it changes and on SIGHUP")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key file for --tls-cert")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "base URL clients use to reach this instance, e.g. wss://eu1.example.com (default: from the request; with --redis: http://<--listen>)")
	fs.StringVar(&cfg.NodeID, "node", "local", "this instance's name, unique in a cluster (with --redis: default <hostname>-<random>)")
	fs.StringVar(&o.secret, "secret", "", "HS256 secret for session tokens and join tickets, ≥ 32 bytes (default: random at start, with a warning);\nprefer TICKRELAY_SECRET or --secret-file: a command line is visible to every local user")
	fs.StringVar(&o.secretFile, "secret-file", "", "read the HS256 secret from this file (surrounding whitespace trimmed); make run keeps a development one in .tickrelay-dev-secret")
	fs.StringVar(&cfg.Issuer, "issuer", "tickrelay", "token issuer (iss)")
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", 24*time.Hour, "lifetime of guest session tokens")
	fs.DurationVar(&cfg.MaxTokenLifetime, "max-token-lifetime", 7*24*time.Hour, "refuse session tokens (guest or backend-minted) valid for longer than this (at least --session-ttl)")
	fs.BoolVar(&o.noGuest, "no-guest", false, "turn off POST /v1/auth/guest (guest tokens are on by default, for development)")
	fs.StringVar(&cfg.APIKey, "api-key", "", "operator key for POST /v1/matches/{id}/events and the console at /console/ on --admin (empty: both are off);\nprefer TICKRELAY_API_KEY or --api-key-file")
	fs.DurationVar(&o.consoleTTL, "console-session-ttl", 15*time.Minute, "lifetime of an operator console session (its HttpOnly cookie); the console is at /console/ on --admin when --api-key is set")
	fs.IntVar(&o.consoleFailures, "console-login-failures", 5, "failed console logins a client IP may make per minute (above: 429 with Retry-After; 4x this from all IPs together)")
	fs.StringVar(&o.apiKeyFile, "api-key-file", "", "read the operator key from this file (surrounding whitespace trimmed)")
	fs.StringVar(&o.origins, "origins", "", "comma-separated browser origins allowed to connect and to call the HTTP API (CORS), or * (default: the origin of --public-url and loopback pages; the request's Host is not trusted)")
	fs.IntVar(&cfg.MaxConns, "max-conns", 20000, "WebSocket connections in all")
	fs.IntVar(&cfg.MaxConnsPerUser, "max-conns-per-user", 8, "WebSocket connections per user")
	fs.IntVar(&cfg.MaxConnsPerIP, "max-conns-per-ip", 64, "WebSocket connections per client IP (IPv6: per /64); -1: no cap")
	fs.Float64Var(&cfg.GuestRate, "guest-rate", 0.5, "guest tokens per second per client IP (above: 429 with Retry-After); -1: no limit")
	fs.IntVar(&cfg.GuestBurst, "guest-burst", 20, "guest tokens a client IP may get at once")
	fs.StringVar(&o.proxies, "trusted-proxies", "", "comma-separated IPs or CIDR prefixes of reverse proxies whose X-Forwarded-For gives the client IP (default: none, the TCP peer is the client)")
	fs.IntVar(&cfg.MaxMatches, "max-matches", 5000, "live matches on this instance (above: 503); -1: no cap")
	fs.IntVar(&cfg.MaxMatchesPerUser, "max-matches-per-user", 5, "live matches one user may have created (above: 429); -1: no cap")
	fs.StringVar(&o.gomaxprocs, "gomaxprocs", "auto", "Go's GOMAXPROCS: auto (one P while the process uses under ~0.75 cores and its goroutines do not wait\nover 5 ms to run (twice in a row), every core otherwise: measured cheaper per client on small machines, bench/RESULTS.md)\nor a fixed number; a GOMAXPROCS environment variable wins")
	fs.IntVar(&cfg.TickSlots, "tick-slots", game.DefaultTickSlots, "instants per tick interval the matches tick at: each match on one slot (a new one on the least loaded), one timer\nper slot for all its matches (fewer thread wake-ups than a timer per match; fewer slots: more matches' writes at once;\nat most one per millisecond of the interval); -1: a timer per match at its own phase")
	fs.DurationVar(&cfg.UnusedMatchTimeout, "unused-match-timeout", 10*time.Second, "end a match nobody ever joined this long after its last reservation expired")
	fs.DurationVar(&cfg.ReservationTTL, "reservation-ttl", 15*time.Second, "how long a reserved seat is held and its join ticket valid (at most 30s)")
	fs.IntVar(&cfg.MaxReservationsPerUser, "max-reservations-per-user", 4, "live seat reservations one user may hold (above: 429); -1: no cap")
	fs.IntVar(&cfg.MaxStreamsPerMatch, "max-streams-per-match", 100, "SSE streams (GET /v1/matches/{id}/stream) on one match (above: 503); -1: no cap")
	fs.IntVar(&cfg.MaxStreamsPerIP, "max-streams-per-ip", 8, "SSE streams from one client IP (above: 429); -1: no cap")
	fs.IntVar(&cfg.MaxLabels, "max-labels", 16, "labels per match, and label filters per listing")
	fs.IntVar(&cfg.MaxLabelKey, "max-label-key", 32, "bytes of a label key")
	fs.IntVar(&cfg.MaxLabelValue, "max-label-value", 64, "bytes of a label value")
	fs.IntVar(&cfg.ListLimit, "list-limit", 100, "matches per GET /v1/matches page (the largest ?limit= accepted)")
	fs.IntVar(&cfg.ListMembers, "list-members", 16, "members shown per match in a listing (GET /v1/matches/{id} shows all)")
	fs.IntVar(&cfg.MaxFrame, "max-frame", 16<<10, "inbound frame limit in bytes (above: close 1009)")
	fs.IntVar(&cfg.OutboundQueue, "outbound-queue", 1<<20, "per-connection outbound queue in bytes (above: close 4001 slow)")
	fs.Float64Var(&cfg.InputRate, "input-rate", 60, "per-connection budget in tokens per second: every client message and WebSocket ping costs 1,\nJOIN by id 2, and HELLO with a token, JOIN with a ticket and RESUME --auth-op-cost")
	fs.IntVar(&cfg.InputBurst, "input-burst", 120, "per-connection budget's bucket size in tokens")
	fs.IntVar(&cfg.AuthOpCost, "auth-op-cost", 8, "tokens a HELLO with a token, a JOIN with a ticket or a RESUME costs (each verifies a signature)")
	fs.IntVar(&cfg.FloodClose, "flood-close", 300, "rate-limit refusals within 5 s that close a connection (4102)")
	fs.IntVar(&cfg.RelayBudget, "relay-budget", 256<<10, "bytes of MESSAGE payloads a match relays per tick, all senders together (at most --outbound-queue/2;\nover it: ERROR RATE_LIMITED to the sender)")
	fs.IntVar(&cfg.RelayShare, "relay-share", 0, "bytes of MESSAGE payloads one sender may have relayed per tick; 0: --relay-budget/8 (a sender's\nfirst message of a tick only needs room in --relay-budget)")
	fs.BoolVar(&cfg.Compression, "compression", false, "permessage-deflate")
	fs.StringVar(&cfg.ReadMode, "read-mode", server.ReadModeTick, "who reads a player's socket while the match runs: loop (its read loop, as each frame arrives) or tick\n(the match, just before each tick: inputs wake no thread; plain TCP without --compression only)")
	fs.DurationVar(&cfg.PingInterval, "ping", 10*time.Second, "server ping interval")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", 20*time.Second, "close a connection silent for this long")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", time.Second, "a write blocked this long closes the client as slow")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 30*time.Second, "close a connection that joins no match within this")
	fs.DurationVar(&cfg.ResumeWindow, "resume-window", 10*time.Second, "how long a dropped session can be resumed (match it to the games' reconnect grace, default 10s)")
	fs.DurationVar(&cfg.ShutdownGrace, "grace", 10*time.Second, "how long matches get to end at shutdown")
	fs.DurationVar(&cfg.DrainDelay, "drain-delay", time.Second, "at shutdown, how long /readyz answers 503 before the listener closes (set above your load balancer's probe interval)")
	fs.DurationVar(&cfg.EndedRetention, "ended-retention", 5*time.Minute, "how long an ended match's info and result stay readable (a JOIN gets MATCH_ENDED); negative: not kept")
	fs.StringVar(&cfg.DemoDir, "demo", "", "directory of the browser demo, served at / (make run sets client-js/demo)")
	fs.StringVar(&cfg.SDKDir, "sdk", "", "directory of the SDK's browser bundle, served at /sdk/")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.mmFile, "matchmaking", "", "matchmaking queues file, JSON or YAML (.yaml/.yml) (default: the built-in queues duel, arena and relay; see server/API.md)")
	fs.DurationVar(&o.mmTTL, "ticket-ttl", 60*time.Second, "lifetime of a matchmaking ticket, for queues whose file sets none")
	fs.IntVar(&o.mmMax, "max-tickets", 100000, "live matchmaking tickets in all (above: 503 UNAVAILABLE)")
	fs.StringVar(&o.redis, "redis", "", "redis:// URL (or host:port) of a standalone Redis: run as one instance of a cluster (default: one instance, no Redis)")
	fs.StringVar(&o.redisCluster, "redis-cluster", "", "comma-separated host:port of Redis Cluster nodes: run as one instance of a cluster over sharded Pub/Sub")
	fs.DurationVar(&cfg.CheckpointEvery, "checkpoint-every", time.Second, "with --redis or --redis-cluster: how often a match of a restorable game (arena, duel) is checkpointed\nto Redis, for games that set no interval of their own (another instance restores it from there\nwhen its owner dies or drains); negative: never")
	fs.IntVar(&o.cpMaxBytes, "checkpoint-max-bytes", 1<<20, "largest match checkpoint stored (a larger one is refused and counted: that match cannot move); at most 4 MiB")
	fs.DurationVar(&o.cpTTL, "checkpoint-ttl", 10*time.Minute, "how long a match checkpoint outlives its last write in Redis (the checkpoints of matches nobody restored vanish)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: tickrelay [flags]\n\nRuns a tickrelay game relay server. Each flag may also come from %s<FLAG>\n(e.g. TICKRELAY_LISTEN, TICKRELAY_SECRET); the command line wins.\n\nFlags:\n", envPrefix)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errExit
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with --; see --help)", fs.Arg(0))
	}
	o.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.given[f.Name] = true })
	if err := applyEnv(fs); err != nil {
		return nil, err
	}
	if o.version {
		fmt.Fprintln(out, "tickrelay", Version())
		return nil, errExit
	}
	_, envAdmin := os.LookupEnv(envName("admin"))
	o.adminGiven = o.given["admin"] || envAdmin
	return o, nil
}

// applyEnv sets every flag not given on the command line from TICKRELAY_<NAME>.
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s: %w", envName(f.Name), e)
			}
		}
	})
	return err
}

// envName is the environment variable of a flag: TICKRELAY_ plus its name in upper case with
// dashes as underscores.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// secretFrom returns a secret given as --name, TICKRELAY_<NAME> or --name-file (one of the value
// and the file). A value typed on the command line still works (tests use it) but is warned
// about: any local user sees it in ps and /proc; the environment or a file does not show. (The
// admin listener never serves the command line.)
func secretFrom(given map[string]bool, log *slog.Logger, name, value, file string) (string, error) {
	key := envName(name)
	if given[name] {
		log.Warn("--" + name + " on the command line is visible to every local user: prefer " + key + " or --" + name + "-file")
	}
	if file == "" {
		return value, nil
	}
	if value != "" {
		return "", fmt.Errorf("--%s-file and --%s (or %s) are both set: use one", name, name, key)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--%s-file: %w", name, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("--%s-file %s is empty", name, file)
	}
	return v, nil
}
