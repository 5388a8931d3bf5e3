package app

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/game/examples/tag"
	"github.com/tickrelay/tickrelay/game/relay"
	"github.com/tickrelay/tickrelay/server"
)

// Every flag can come from TICKRELAY_<NAME>; the command line wins.
func TestFlagsFromEnvironment(t *testing.T) {
	t.Setenv("TICKRELAY_LISTEN", "127.0.0.1:9999")
	t.Setenv("TICKRELAY_PING", "3s")
	t.Setenv("TICKRELAY_MAX_CONNS_PER_USER", "2")
	o, err := parseFlags([]string{"--listen", "127.0.0.1:7777"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.Listen != "127.0.0.1:7777" || o.cfg.PingInterval != 3*time.Second || o.cfg.MaxConnsPerUser != 2 {
		t.Fatalf("listen %q ping %v per-user %d", o.cfg.Listen, o.cfg.PingInterval, o.cfg.MaxConnsPerUser)
	}
	t.Setenv("TICKRELAY_PING", "soon")
	if _, err := parseFlags(nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "TICKRELAY_PING") {
		t.Fatalf("a malformed TICKRELAY_PING: %v", err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Duration("ping", time.Second, "")
	if err := applyEnv(fs); err == nil {
		t.Fatal("applyEnv accepted a malformed TICKRELAY_PING")
	}
}

func TestHelpVersionAndBadFlags(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"--help"}, Options{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"TICKRELAY_<FLAG>", "-secret-file", "-version", "-admin"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("--help lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := Run(context.Background(), []string{"--version"}, Options{Stdout: &out}); err != nil {
		t.Fatalf("--version: %v", err)
	}
	if !strings.HasPrefix(out.String(), "tickrelay ") || !strings.Contains(out.String(), "go1.") {
		t.Fatalf("--version printed %q", out.String())
	}
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"stray"},
		{"--log-level", "loud", "--listen", "127.0.0.1:0", "--admin", ""},
		{"--log-format", "xml", "--listen", "127.0.0.1:0", "--admin", ""},
		{"--secret", "x", "--secret-file", "/dev/null", "--listen", "127.0.0.1:0", "--admin", ""},
		{"--secret-file", filepath.Join(t.TempDir(), "missing"), "--listen", "127.0.0.1:0", "--admin", ""},
	} {
		if err := Run(context.Background(), args, Options{Stdout: &out, Stderr: &out}); err == nil {
			t.Fatalf("%q was accepted", args)
		}
	}
}

// An extra game type (the tag example) is served beside the built-in ones and can be created
// and streamed over HTTP; a duplicate name is refused.
func TestRunServesExtraGames(t *testing.T) {
	extra := tag.Type
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(strings.Repeat("s", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, stop := start(t, []string{"--listen", "127.0.0.1:0", "--admin", "", "--secret-file", secretFile}, extra)
	defer stop()
	resp, err := http.Get("http://" + srv.Addr().String() + "/v1/games")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Games []string `json:"games"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(body.Games, ","); got != "arena,duel,relay,tag" {
		t.Fatalf("games %s", got)
	}
	base := "http://" + srv.Addr().String()
	resp, err = http.Post(base+"/v1/auth/guest", "application/json", strings.NewReader(`{"name":"ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&g)
	resp.Body.Close()
	req, _ := http.NewRequest("POST", base+"/v1/matches", strings.NewReader(`{"game":"tag"}`))
	req.Header.Set("Authorization", "Bearer "+g.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var cr struct {
		Match struct{ ID, Game string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&cr)
	resp.Body.Close()
	if resp.StatusCode != 201 || cr.Match.Game != "tag" {
		t.Fatalf("create a tag match: %d %+v", resp.StatusCode, cr)
	}
	if err := Run(context.Background(), []string{"--listen", "127.0.0.1:0", "--admin", ""}, Options{Games: []game.GameType{relay.Type}, Stderr: &bytes.Buffer{}}); err == nil {
		t.Fatal("a second game named relay was accepted")
	}
}

// The default admin address, when taken, is a warning: a second instance on one machine runs.
// An admin address given explicitly is still fatal when taken.
func TestAdminAddressTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var logs bytes.Buffer
	o, err := parseFlags([]string{"--listen", "127.0.0.1:0"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	o.cfg.Admin = ln.Addr().String() // as if the default were this taken address
	cfg, err := o.config(Options{Stderr: &logs})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("default admin address taken: %v", err)
	}
	_ = srv.Shutdown(context.Background())
	if !strings.Contains(logs.String(), "admin listener off") {
		t.Fatalf("no warning logged:\n%s", logs.String())
	}
	err = Run(context.Background(), []string{"--listen", "127.0.0.1:0", "--admin", ln.Addr().String()}, Options{Stderr: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "admin") {
		t.Fatalf("explicit --admin taken: %v", err)
	}
}

// start runs Run in the background until the returned stop is called.
func start(t *testing.T, args []string, games ...game.GameType) (*server.Server, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *server.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append(args, "--grace", "1s"), Options{Games: games, Stderr: io.Discard, Ready: func(s *server.Server) { ready <- s }})
	}()
	select {
	case s := <-ready:
		return s, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	case err := <-done:
		cancel()
		t.Fatalf("Run ended before it was ready: %v", err)
	}
	return nil, nil
}

// Secrets come from a file (or the environment); a file and a value together are refused.
func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	sec := dir + "/secret"
	key := dir + "/key"
	if err := os.WriteFile(sec, []byte("0123456789abcdef0123456789abcdef-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("  op-key-from-file \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	o, err := parseFlags([]string{"--secret-file", sec, "--api-key-file", key}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config(Options{Stderr: io.Discard})
	if err != nil || string(cfg.Secret) != "0123456789abcdef0123456789abcdef-file" || cfg.APIKey != "op-key-from-file" {
		t.Fatalf("secret %q key %q: %v", cfg.Secret, cfg.APIKey, err)
	}
	if _, err := secretFrom(nil, log, "secret", "from-env", sec); err == nil {
		t.Fatal("a secret from both the environment and a file was accepted")
	}
	if _, err := secretFrom(nil, log, "secret", "", dir+"/missing"); err == nil {
		t.Fatal("a missing secret file was accepted")
	}
	empty := dir + "/empty"
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := secretFrom(nil, log, "secret", "", empty); err == nil {
		t.Fatal("an empty secret file was accepted")
	}
	var logs bytes.Buffer
	if _, err := secretFrom(map[string]bool{"secret": true}, slog.New(slog.NewTextHandler(&logs, nil)), "secret", "x", ""); err != nil || !strings.Contains(logs.String(), "TICKRELAY_SECRET") {
		t.Fatalf("a secret on the command line is not warned about: %v %s", err, logs.String())
	}
	// The whole binary refuses a missing secret file.
	if err := Run(context.Background(), []string{"--secret-file", dir + "/missing", "--listen", "127.0.0.1:0", "--admin", ""}, Options{Stderr: io.Discard}); err == nil || !strings.Contains(err.Error(), "secret-file") {
		t.Fatalf("run with a missing secret file: %v", err)
	}
}
