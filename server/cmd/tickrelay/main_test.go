package main

import (
	"flag"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// Every flag can come from TICKRELAY_<NAME>; the command line wins.
func TestFlagsFromEnvironment(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8080", "")
	ping := fs.Duration("ping", 10*time.Second, "")
	perUser := fs.Int("max-conns-per-user", 8, "")
	t.Setenv("TICKRELAY_LISTEN", "127.0.0.1:9999")
	t.Setenv("TICKRELAY_PING", "3s")
	t.Setenv("TICKRELAY_MAX_CONNS_PER_USER", "2")
	if err := fs.Parse([]string{"--listen", "127.0.0.1:7777"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs); err != nil {
		t.Fatal(err)
	}
	if *listen != "127.0.0.1:7777" || *ping != 3*time.Second || *perUser != 2 {
		t.Fatalf("listen %q ping %v per-user %d", *listen, *ping, *perUser)
	}
	t.Setenv("TICKRELAY_PING", "soon")
	fs2 := flag.NewFlagSet("t", flag.ContinueOnError)
	fs2.Duration("ping", time.Second, "")
	if err := applyEnv(fs2); err == nil {
		t.Fatal("a malformed TICKRELAY_PING was accepted")
	}
}

func TestHelpAndBadFlags(t *testing.T) {
	if err := run([]string{"--help"}); err != nil {
		t.Fatalf("--help: %v", err)
	}
	if err := run([]string{"--no-such-flag"}); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
	if err := run([]string{"--log-level", "loud", "--listen", "127.0.0.1:0", "--admin", ""}); err == nil {
		t.Fatal("a bad log level was accepted")
	}
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
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	secret := fs.String("secret", "", "")
	secretFile := fs.String("secret-file", "", "")
	if err := fs.Parse([]string{"--secret-file", sec}); err != nil {
		t.Fatal(err)
	}
	got, err := secretFrom(fs, log, "secret", *secret, *secretFile)
	if err != nil || got != "0123456789abcdef0123456789abcdef-file" {
		t.Fatalf("secret from file: %q %v", got, err)
	}
	if got, err := secretFrom(fs, log, "api-key", "", key); err != nil || got != "op-key-from-file" {
		t.Fatalf("api key from file: %q %v", got, err)
	}
	if _, err := secretFrom(fs, log, "secret", "from-env", sec); err == nil {
		t.Fatal("a secret from both the environment and a file was accepted")
	}
	if _, err := secretFrom(fs, log, "secret", "", dir+"/missing"); err == nil {
		t.Fatal("a missing secret file was accepted")
	}
	empty := dir + "/empty"
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := secretFrom(fs, log, "secret", "", empty); err == nil {
		t.Fatal("an empty secret file was accepted")
	}
	// The whole binary starts with --secret-file and --api-key-file (a bad one stops it).
	if err := run([]string{"--secret-file", dir + "/missing", "--listen", "127.0.0.1:0", "--admin", ""}); err == nil || !strings.Contains(err.Error(), "secret-file") {
		t.Fatalf("run with a missing secret file: %v", err)
	}
}
