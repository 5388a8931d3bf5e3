// Command tickrelay runs a tickrelay server: the HTTP API, the WebSocket endpoint and the
// browser demo. Every flag can also be set with an environment variable (TICKRELAY_ plus the
// flag's name in upper case, dashes as underscores); a flag given on the command line wins.
//
//	tickrelay --listen 127.0.0.1:8080 --demo client-js/demo --sdk client-js/dist/browser
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tickrelay/tickrelay/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tickrelay:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("tickrelay", flag.ContinueOnError)
	var (
		cfg        server.Config
		secret     string
		origins    string
		logFormat  string
		logLevel   string
		noGuest    bool
		secretFile string
		apiKeyFile string
	)
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address for HTTP, the WebSocket endpoint /ws and the demo")
	fs.StringVar(&cfg.Admin, "admin", "127.0.0.1:6060", "address for pprof, /metrics and a detailed /readyz (empty: off)")
	fs.BoolVar(&cfg.PublicMetrics, "public-metrics", false, "also serve /metrics on --listen (default: the admin listener only)")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "base URL clients use to reach this instance, e.g. wss://eu1.example.com (default: from the request)")
	fs.StringVar(&cfg.NodeID, "node", "local", "this instance's name")
	fs.StringVar(&secret, "secret", "", "HS256 secret for session tokens and join tickets, ≥ 32 bytes (default: random at start, with a warning);\nprefer TICKRELAY_SECRET or --secret-file: a command line is visible to every local user")
	fs.StringVar(&secretFile, "secret-file", "", "read the HS256 secret from this file (surrounding whitespace trimmed)")
	fs.StringVar(&cfg.Issuer, "issuer", "tickrelay", "token issuer (iss)")
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", 24*time.Hour, "lifetime of guest session tokens")
	fs.BoolVar(&noGuest, "no-guest", false, "turn off POST /v1/auth/guest (guest tokens are on by default, for development)")
	fs.StringVar(&cfg.APIKey, "api-key", "", "operator key for POST /v1/matches/{id}/events (empty: that endpoint is off);\nprefer TICKRELAY_API_KEY or --api-key-file")
	fs.StringVar(&apiKeyFile, "api-key-file", "", "read the operator key from this file (surrounding whitespace trimmed)")
	fs.StringVar(&origins, "origins", "", "comma-separated browser origins allowed to connect, or * (default: the server's own origin)")
	fs.IntVar(&cfg.MaxConns, "max-conns", 20000, "WebSocket connections in all")
	fs.IntVar(&cfg.MaxConnsPerUser, "max-conns-per-user", 8, "WebSocket connections per user")
	fs.IntVar(&cfg.MaxFrame, "max-frame", 16<<10, "inbound frame limit in bytes (above: close 1009)")
	fs.IntVar(&cfg.OutboundQueue, "outbound-queue", 1<<20, "per-connection outbound queue in bytes (above: close 4001 slow)")
	fs.Float64Var(&cfg.InputRate, "input-rate", 60, "inputs and messages per second per connection")
	fs.IntVar(&cfg.InputBurst, "input-burst", 120, "input burst per connection")
	fs.BoolVar(&cfg.Compression, "compression", false, "permessage-deflate")
	fs.DurationVar(&cfg.PingInterval, "ping", 10*time.Second, "server ping interval")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", 20*time.Second, "close a connection silent for this long")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", time.Second, "a write blocked this long closes the client as slow")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 30*time.Second, "close a connection that joins no match within this")
	fs.DurationVar(&cfg.ResumeWindow, "resume-window", 15*time.Second, "how long a dropped session can be resumed")
	fs.DurationVar(&cfg.ShutdownGrace, "grace", 10*time.Second, "how long matches get to end at shutdown")
	fs.StringVar(&cfg.DemoDir, "demo", "", "directory of the browser demo, served at / (make run sets client-js/demo)")
	fs.StringVar(&cfg.SDKDir, "sdk", "", "directory of the SDK's browser bundle, served at /sdk/")
	fs.StringVar(&logFormat, "log-format", "text", "text or json")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: tickrelay [flags]\n\nRuns a tickrelay game relay server. Each flag may also come from TICKRELAY_<FLAG>\n(e.g. TICKRELAY_LISTEN, TICKRELAY_SECRET); the command line wins.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	err := applyEnv(fs)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if logFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	cfg.Log = slog.New(h)
	if secret, err = secretFrom(fs, cfg.Log, "secret", secret, secretFile); err != nil {
		return err
	}
	if cfg.APIKey, err = secretFrom(fs, cfg.Log, "api-key", cfg.APIKey, apiKeyFile); err != nil {
		return err
	}
	cfg.Secret = []byte(secret)
	cfg.DisableGuest = noGuest
	if origins != "" {
		for _, o := range strings.Split(origins, ",") {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, strings.TrimSpace(o))
		}
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	base := "http://" + srv.Addr().String()
	if cfg.DemoDir != "" {
		cfg.Log.Info("demo ready: open " + base + "/ in a browser")
	}
	cfg.Log.Info("try: curl -s -X POST " + base + "/v1/auth/guest")

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	stop()
	cfg.Log.Info("signal received, shutting down (a second signal exits at once)")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace+10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// secretFrom returns a secret given as --name, TICKRELAY_<NAME> or --name-file (one of the value
// and the file). A value typed on the command line still works (tests and make run use it) but
// is warned about: any local user sees it in ps and /proc; the environment or a file does not
// show. (The admin listener never serves the command line.)
func secretFrom(fs *flag.FlagSet, log *slog.Logger, name, value, file string) (string, error) {
	key := "TICKRELAY_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	onCmdline := false
	fs.Visit(func(f *flag.Flag) { onCmdline = onCmdline || f.Name == name })
	if onCmdline {
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

// applyEnv sets every flag not given on the command line from TICKRELAY_<NAME>.
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		key := "TICKRELAY_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s: %w", key, e)
			}
		}
	})
	return err
}
