package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickrelay/tickrelay/protocol"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/cluster"
)

//go:embed static
var static embed.FS

// ErrNoKey: the console needs the operator key (--api-key); without one it is off.
var ErrNoKey = errors.New("console: no operator key configured (--api-key)")

// Config configures a console. Server and Key are required; every other zero value is the
// default written beside it.
type Config struct {
	Server  *server.Server
	Key     string // the operator key (--api-key): typed once at login, never in a URL
	Log     *slog.Logger
	Version string
	// SessionTTL is the lifetime of a console session (its cookie); default 15 minutes.
	SessionTTL time.Duration
	// LoginFailures is how many failed logins a client IP may make per LoginWindow (429 with
	// Retry-After above it; 4× that from all IPs together); default 5 per minute.
	LoginFailures int
	LoginWindow   time.Duration
	// Drain starts a graceful shutdown of this instance, as SIGTERM does (the binary cancels
	// its run context). nil: the drain action answers UNAVAILABLE.
	Drain func()
	// SampleEvery is how often the instances' figures are sampled for the chart; default 2 s.
	// Samples is how many are kept per instance; default 150 (5 minutes).
	SampleEvery time.Duration
	Samples     int
	Now         func() time.Time // sessions' clock (tests step it); default time.Now
}

func (c Config) withDefaults() Config {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 15 * time.Minute
	}
	if c.LoginFailures <= 0 {
		c.LoginFailures = 5
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = time.Minute
	}
	if c.SampleEvery <= 0 {
		c.SampleEvery = 2 * time.Second
	}
	if c.Samples <= 0 {
		c.Samples = 150
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	return c
}

// Console is the operators' console of one instance. Build it with New, mount it with Mount
// (which also starts its sampler), stop it with Close.
type Console struct {
	cfg      Config
	srv      *server.Server
	log      *slog.Logger
	cluster  *cluster.Bus // nil on a single instance (the memory bus)
	sessions *sessions
	fails    *failures
	rings    *rings
	logins   *prometheus.CounterVec
	actions  *prometheus.CounterVec
	mux      *http.ServeMux

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// New builds the console of cfg.Server and registers its metrics on the server's registry.
func New(cfg Config) (*Console, error) {
	if cfg.Server == nil {
		return nil, errors.New("console: Config.Server is required")
	}
	if cfg.Key == "" {
		return nil, ErrNoKey
	}
	cfg = cfg.withDefaults()
	c := &Console{cfg: cfg, srv: cfg.Server, log: cfg.Log.With("component", "console"), sessions: newSessions(),
		fails: newFailures(cfg.LoginFailures, cfg.LoginWindow), rings: newRings(cfg.Samples), stop: make(chan struct{})}
	c.cluster, _ = cfg.Server.Bus().(*cluster.Bus)
	c.logins = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_console_logins_total",
		Help: "Console logins, by result (ok, wrong_key, limited: refused by the failed-login limit)."}, []string{"result"})
	c.actions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_console_actions_total",
		Help: "Operator actions taken in the console (or asked by another instance's console), by action and result (ok, error)."}, []string{"action", "result"})
	if err := errors.Join(cfg.Server.Metrics().Register(c.logins), cfg.Server.Metrics().Register(c.actions)); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// Mount serves the console at /console/ on the server's admin listener, answers other
// instances' operator requests (in a cluster) and starts the sampler.
func (c *Console) Mount() {
	c.srv.HandleAdmin("/console/", c.mux)
	c.srv.HandleAdmin("GET /console", http.RedirectHandler("/console/", http.StatusFound))
	if c.cluster != nil {
		c.cluster.HandleAdmin(c.serveRemote)
	}
	c.wg.Add(1)
	go c.sampler()
}

// Close stops the sampler and stops answering other instances.
func (c *Console) Close() {
	c.once.Do(func() {
		if c.cluster != nil {
			c.cluster.HandleAdmin(nil)
		}
		close(c.stop)
	})
	c.wg.Wait()
}

// Handler is the console's handler (its paths start with /console/).
func (c *Console) Handler() http.Handler { return c.mux }

func (c *Console) routes() {
	mux := http.NewServeMux()
	page, _ := fs.Sub(static, "static")
	files := http.StripPrefix("/console/", http.FileServerFS(page))
	mux.Handle("GET /console/", securePage(files))
	mux.HandleFunc("POST /console/api/login", c.handleLogin)
	mux.HandleFunc("POST /console/api/logout", c.authed(c.handleLogout))
	mux.HandleFunc("GET /console/api/me", c.authed(c.handleMe))
	mux.HandleFunc("GET /console/api/instances", c.authed(c.handleInstances))
	mux.HandleFunc("GET /console/api/matches", c.authed(c.handleMatches))
	mux.HandleFunc("GET /console/api/matches/{id}", c.authed(c.handleMatch))
	mux.HandleFunc("GET /console/api/matches/{id}/stream", c.authed(c.handleStream))
	mux.HandleFunc("POST /console/api/matches/{id}/end", c.authed(c.handleEnd))
	mux.HandleFunc("POST /console/api/matches/{id}/kick", c.authed(c.handleKick))
	mux.HandleFunc("POST /console/api/instances/{node}/drain", c.authed(c.handleDrain))
	unknown := func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, &server.CodeError{Code: protocol.ErrCodeNotFound, Msg: "no console route " + r.Method + " " + r.URL.Path})
	}
	mux.HandleFunc("GET /console/api/", unknown)
	mux.HandleFunc("POST /console/api/", unknown)
	c.mux = mux
}

// securePage adds the headers the page wants: no framing, no inline script from elsewhere.
func securePage(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

// authed serves h only for a live console session; requests that change something must also
// come from the console's own page (same Origin when the browser sends one; a JSON body).
func (c *Console) authed(h func(http.ResponseWriter, *http.Request, operator)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(cookieName)
		var op operator
		ok := err == nil
		if ok {
			op, ok = c.sessions.get(ck.Value, c.cfg.Now())
		}
		if !ok {
			c.fail(w, &server.CodeError{Code: protocol.ErrCodeUnauthorized, Msg: "log in to the console (the session is missing or expired)"})
			return
		}
		if r.Method != http.MethodGet && !sameOrigin(r) {
			c.fail(w, &server.CodeError{Code: protocol.ErrCodeForbidden, Msg: "console actions come from the console's own page"})
			return
		}
		h(w, r, op)
	}
}

// sameOrigin: a browser's Origin (when sent) names this host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

type loginBody struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

func (c *Console) handleLogin(w http.ResponseWriter, r *http.Request) {
	now := c.cfg.Now()
	ip := peerIP(r)
	if !sameOrigin(r) {
		c.fail(w, &server.CodeError{Code: protocol.ErrCodeForbidden, Msg: "log in from the console's own page"})
		return
	}
	if limited, wait := c.fails.blocked(ip, now); limited {
		c.logins.WithLabelValues("limited").Inc()
		c.log.Warn("console login refused: too many failed logins", "from", ip, "retry_after", wait.Round(time.Second))
		w.Header().Set("Retry-After", retryAfter(wait))
		c.fail(w, &server.CodeError{Code: protocol.ErrCodeRateLimited, Msg: "too many failed logins: try again in " + retryAfter(wait) + " s"})
		return
	}
	var body loginBody
	if err := decodeBody(r, &body); err != nil {
		c.fail(w, err)
		return
	}
	name := cleanName(body.Name)
	if !keyEqual(body.Key, c.cfg.Key) {
		c.fails.failed(ip, now)
		c.logins.WithLabelValues("wrong_key").Inc()
		c.log.Warn("console login failed: wrong key", "who", name, "from", ip)
		c.fail(w, &server.CodeError{Code: protocol.ErrCodeUnauthorized, Msg: "wrong operator key"})
		return
	}
	op := operator{Name: name, IP: ip, Expires: now.Add(c.cfg.SessionTTL)}
	token := c.sessions.create(op)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/console/", MaxAge: int(c.cfg.SessionTTL / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	c.logins.WithLabelValues("ok").Inc()
	op, _ = c.sessions.get(token, now)
	c.log.Info("console login", "who", op.Name, "from", ip, "session", op.ID, "expires", op.Expires.UTC().Format(time.RFC3339))
	server.WriteJSON(w, http.StatusOK, c.me(op))
}

func (c *Console) handleLogout(w http.ResponseWriter, r *http.Request, op operator) {
	if ck, err := r.Cookie(cookieName); err == nil {
		c.sessions.remove(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	c.log.Info("console logout", "who", op.Name, "from", op.IP, "session", op.ID)
	w.WriteHeader(http.StatusNoContent)
}

type meJSON struct {
	Name    string    `json:"name"`
	Session string    `json:"session"`
	Expires time.Time `json:"expires"`
	Node    string    `json:"node"`
	Cluster bool      `json:"cluster"`
	Drain   bool      `json:"drain"` // this instance can be drained from here
}

func (c *Console) me(op operator) meJSON {
	return meJSON{Name: op.Name, Session: op.ID, Expires: op.Expires, Node: c.srv.NodeID(), Cluster: c.cluster != nil, Drain: c.cfg.Drain != nil}
}

func (c *Console) handleMe(w http.ResponseWriter, _ *http.Request, op operator) {
	server.WriteJSON(w, http.StatusOK, c.me(op))
}

// audit logs one operator action (who, from where, what, on what, the outcome; the log line's
// time is when) and counts it.
func (c *Console) audit(who, from, via, action string, err error, attrs ...any) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	c.actions.WithLabelValues(action, result).Inc()
	args := append([]any{"who", who, "from", from, "action", action, "result", result}, attrs...)
	if via != "" {
		args = append(args, "via", via)
	}
	if err != nil {
		args = append(args, "err", err.Error())
		c.log.Warn("operator action", args...)
		return
	}
	c.log.Info("operator action", args...)
}

// fail writes err as the API's JSON error (code, name, message, request_id), as the public
// API does.
func (c *Console) fail(w http.ResponseWriter, err error) { c.srv.Fail(w, err) }

// decodeBody reads a small JSON body into v (the console's page always sends JSON: a form
// post from another site cannot).
func decodeBody(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" && !hasPrefix(ct, "application/json;") {
		return &server.CodeError{Code: protocol.ErrCodeBadRequest, Msg: "send a JSON body (Content-Type: application/json)"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4<<10))
	if err := dec.Decode(v); err != nil {
		return &server.CodeError{Code: protocol.ErrCodeBadRequest, Msg: "bad JSON body: " + err.Error()}
	}
	return nil
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// bg is a request's deadline for calls to matches and other instances.
func bg(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 3*time.Second)
}
