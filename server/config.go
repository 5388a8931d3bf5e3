package server

import (
	"log/slog"
	"time"

	"github.com/tickrelay/tickrelay/game"
)

// Config configures a Server. Every zero value means the default written beside it, so
// Config{} is a working development server on 127.0.0.1:8080.
type Config struct {
	Listen string // HTTP and WebSocket address; default "127.0.0.1:8080"
	Admin  string // admin address: pprof, /metrics, detailed /readyz; "" disables it (the binary defaults it to 127.0.0.1:6060)
	// PublicMetrics also serves /metrics on the public listener (off by default: the metrics
	// name games and counts that outsiders need not see; scrape the admin listener).
	PublicMetrics bool
	// AdminOptional makes an Admin address that cannot be bound a warning instead of an error
	// (the binary sets it for its default address, so a second instance on one machine runs).
	AdminOptional bool
	// TLSCert and TLSKey are PEM files: when set, the listener speaks HTTPS and WSS (same port).
	// The files are re-read when they change (checked every 3 s) and on Server.ReloadTLS (SIGHUP).
	TLSCert, TLSKey string
	PublicURL       string // base URL announced in seat reservations (ws://host:port); default from the request's Host
	NodeID          string // this instance's name in listings and the cluster; default "local"
	Version         string // reported in tickrelay_build_info and the node registry; default "dev"

	Secret     []byte        // HS256 secret for tokens; default a random one (tokens die with the process)
	Issuer     string        // token issuer; default "tickrelay"
	SessionTTL time.Duration // lifetime of guest session tokens; default 24h
	// MaxTokenLifetime refuses session tokens (guest or backend-minted) whose exp is further
	// ahead than this; default 7 days (never below SessionTTL).
	MaxTokenLifetime time.Duration
	DisableGuest     bool   // turn off POST /v1/auth/guest
	APIKey           string // operator key for POST /v1/matches/{id}/events; "" disables that endpoint
	// AllowedOrigins lists the browser origins that may open WebSockets ("https://game.example").
	// Default: the origin of PublicURL (wss://game.example → https://game.example) and loopback
	// pages (localhost, 127.0.0.0/8, ::1); never "whatever the request's Host says", which DNS
	// rebinding controls. Requests without an Origin header (non-browser clients) are always
	// allowed. "*" allows any.
	AllowedOrigins []string

	MaxConns        int     // WebSocket connections in all; default 20000 (above: 503)
	MaxConnsPerUser int     // per user id; default 8 (above: 503)
	MaxConnsPerIP   int     // per client IP (IPv6: per /64); default 64, <0 no cap (above: 503)
	GuestRate       float64 // guest tokens per second per client IP; default 0.5, <0 no limit (above: 429)
	GuestBurst      int     // guest tokens a client IP may get at once; default 20
	// TrustedProxies are the reverse proxies (IPs or CIDR prefixes) whose X-Forwarded-For is
	// believed for the client IP. Default none: the client IP is the TCP peer.
	TrustedProxies    []string
	MaxMatches        int // live matches on this instance; default 5000, <0 no cap (above: 503 UNAVAILABLE)
	MaxMatchesPerUser int // live matches one user may have created; default 5, <0 no cap (above: 429 RATE_LIMITED)
	// UnusedMatchTimeout ends a match that no player ever joined this long after its last
	// reservation expired; default 10s (game.Options.UnusedTimeout; a game's own value wins).
	UnusedMatchTimeout time.Duration
	// TickSlots is how many instants of each tick interval the matches tick at (one timer per
	// slot serves all its matches: fewer thread wake-ups); default game.DefaultTickSlots, <0:
	// a timer of its own per match (game.RegistryConfig.TickSlots).
	TickSlots              int
	ReservationTTL         time.Duration // how long a reserved seat is held, and its ticket valid; default 15s, at most 30s
	MaxReservationsPerUser int           // live seat reservations one user may hold; default 4, <0 no cap (above: 429)
	MaxStreamsPerMatch     int           // SSE streams on one match; default 100, <0 no cap (above: 503)
	MaxStreamsPerIP        int           // SSE streams from one client IP; default 8, <0 no cap (above: 429)
	MaxLabels              int           // labels per match (and label filters per listing); default 16
	MaxLabelKey            int           // bytes of a label key; default 32
	MaxLabelValue          int           // bytes of a label value; default 64
	ListLimit              int           // matches per listing page (the largest limit accepted); default 100
	ListMembers            int           // members shown per match in a listing (GET /v1/matches/{id} shows all); default 16
	MaxFrame               int           // inbound frame limit in bytes; default 16 KiB (above: close 1009)
	OutboundQueue          int           // per-session outbound queue in bytes; default 1 MiB (above: close 4001)
	// InputRate is the per-connection budget: tokens per second, paying for every client op
	// (1 each) and WebSocket ping (1); HELLO with a token, JOIN with a ticket and RESUME cost
	// AuthOpCost, JOIN by id 2. Default 60.
	InputRate  float64
	InputBurst int // the budget's bucket size in tokens; default 120
	AuthOpCost int // tokens a HELLO with a token, a JOIN with a ticket or a RESUME costs; default 8
	FloodClose int // refusals by the rate limit within 5 s that close the connection (4102); default 300
	// RelayBudget is the bytes of MESSAGE payloads a match relays per tick, all senders
	// together; default 256 KiB, at most OutboundQueue/2 (one tick's messages reach every
	// recipient in one frame). RelayShare is one sender's part of it per tick; default
	// RelayBudget/8. Over either, a MESSAGE is refused with ERROR RATE_LIMITED. A game type's
	// own Options take precedence.
	RelayBudget   int
	RelayShare    int
	BadFrameClose int  // malformed/unknown frames that close the connection (4101); default 10
	Compression   bool // permessage-deflate; default off
	// ReadMode is who reads a player's socket while their match runs: ReadModeLoop (the
	// connection's read loop, on every frame's arrival) or ReadModeTick (the match itself, just
	// before each tick, so that inputs wake no thread; see tickread.go). Only plain TCP
	// without compression reads in tick mode. Default ReadModeLoop.
	ReadMode string

	PingInterval  time.Duration // server pings; default 10s
	ReadTimeout   time.Duration // no frame, ping or pong within this closes; default 20s
	WriteTimeout  time.Duration // a write blocked this long marks the client slow (close 4001); default 1s
	IdleTimeout   time.Duration // a session that never joins is closed (4103); default 30s
	ResumeWindow  time.Duration // how long a dropped session can be resumed; default 10s, the games' default reconnect grace
	ShutdownGrace time.Duration // how long matches get to end at shutdown; default 10s
	// DrainDelay is how long a shutdown keeps serving with /readyz answering 503 before the
	// listener closes, so a load balancer stops sending new players first; default 0 (the
	// binary's --drain-delay defaults to 1s).
	DrainDelay time.Duration
	// EndedRetention is how long an ended match's info and result stay readable (and a JOIN is
	// told MATCH_ENDED); default 5m, negative: not kept. At most 1000 ended matches are kept.
	EndedRetention time.Duration

	DemoDir string // static files served at / (the browser demo); "" serves none
	SDKDir  string // the SDK's browser bundle, served at /sdk/; "" serves none

	Log     *slog.Logger  // default slog.Default()
	Catalog *game.Catalog // default: the built-in games (arena, relay, duel)
	Clock   game.Clock    // default the wall clock
	Bus     BusFactory    // default an in-memory bus (one instance, no Redis); server/cluster builds the Redis one
	// Checkpoints receives the checkpoints of matches whose game can be restored (nil: none
	// are taken); server/app gives it a server/checkpoint.Writer over Redis in a cluster.
	Checkpoints game.CheckpointSink
	// CheckpointEvery is how often those matches are checkpointed, for games that set none
	// (game.Options.CheckpointEvery); 0: 1s, negative: never.
	CheckpointEvery time.Duration
}

func (c Config) withDefaults() Config {
	def := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.NodeID == "" {
		c.NodeID = "local"
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Issuer == "" {
		c.Issuer = "tickrelay"
	}
	def(&c.SessionTTL, 24*time.Hour)
	if c.MaxConns <= 0 {
		c.MaxConns = 20000
	}
	if c.MaxConnsPerUser <= 0 {
		c.MaxConnsPerUser = 8
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = 64
	}
	if c.GuestRate == 0 {
		c.GuestRate = 0.5
	}
	if c.GuestBurst <= 0 {
		c.GuestBurst = 20
	}
	if c.MaxMatches == 0 {
		c.MaxMatches = 5000
	}
	if c.MaxMatchesPerUser == 0 {
		c.MaxMatchesPerUser = 5
	}
	def(&c.UnusedMatchTimeout, 10*time.Second)
	def(&c.ReservationTTL, 15*time.Second)
	if c.ReservationTTL > 30*time.Second {
		c.ReservationTTL = 30 * time.Second
	}
	for _, d := range []struct {
		p *int
		v int
	}{{&c.MaxLabels, 16}, {&c.MaxLabelKey, 32}, {&c.MaxLabelValue, 64}, {&c.ListLimit, 100}, {&c.ListMembers, 16}} {
		if *d.p <= 0 {
			*d.p = d.v
		}
	}
	if c.MaxStreamsPerMatch == 0 {
		c.MaxStreamsPerMatch = 100
	}
	if c.MaxStreamsPerIP == 0 {
		c.MaxStreamsPerIP = 8
	}
	if c.MaxReservationsPerUser == 0 {
		c.MaxReservationsPerUser = 4
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = 16 << 10
	}
	if c.OutboundQueue <= 0 {
		c.OutboundQueue = 1 << 20
	}
	if c.InputRate <= 0 {
		c.InputRate = 60
	}
	if c.InputBurst <= 0 {
		c.InputBurst = 120
	}
	if c.AuthOpCost <= 0 {
		c.AuthOpCost = 8
	}
	if c.RelayBudget <= 0 {
		c.RelayBudget = 256 << 10
	}
	if c.RelayShare <= 0 {
		c.RelayShare = c.RelayBudget / 8
	}
	if c.FloodClose <= 0 {
		c.FloodClose = 300
	}
	if c.BadFrameClose <= 0 {
		c.BadFrameClose = 10
	}
	if c.ReadMode == "" {
		c.ReadMode = ReadModeLoop
	}
	def(&c.PingInterval, 10*time.Second)
	def(&c.ReadTimeout, 20*time.Second)
	def(&c.WriteTimeout, time.Second)
	def(&c.IdleTimeout, 30*time.Second)
	def(&c.ResumeWindow, 10*time.Second)
	def(&c.ShutdownGrace, 10*time.Second)
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = game.RealClock{}
	}
	return c
}

// Config.ReadMode values.
const (
	ReadModeLoop = "loop"
	ReadModeTick = "tick"
)
