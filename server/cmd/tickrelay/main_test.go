package main

import (
	"flag"
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
