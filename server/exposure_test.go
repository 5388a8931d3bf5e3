package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// get returns the status and body of a GET.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The admin listener never prints the command line (where secrets used to be passed), /metrics
// is served there and not on the public port, and the public /readyz says nothing about load.
func TestAdminAndPublicExposure(t *testing.T) {
	srv, err := New(Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Secret: testSecret, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	pub, adm := "http://"+srv.Addr().String(), "http://"+srv.AdminAddr().String()
	if st, body := get(t, adm+"/debug/pprof/cmdline"); st != 404 {
		t.Fatalf("admin /debug/pprof/cmdline: %d %q, want 404", st, body)
	}
	if st, _ := get(t, adm+"/debug/pprof/"); st != 200 {
		t.Fatalf("admin pprof index: %d", st)
	}
	if st, _ := get(t, adm+"/debug/pprof/goroutine?debug=1"); st != 200 {
		t.Fatalf("admin goroutine profile: %d", st)
	}
	if st, body := get(t, adm+"/metrics"); st != 200 || !strings.Contains(body, "tickrelay_sessions") {
		t.Fatalf("admin /metrics: %d", st)
	}
	if st, _ := get(t, pub+"/metrics"); st != 404 {
		t.Fatalf("public /metrics: %d, want 404 (admin only unless PublicMetrics)", st)
	}
	st, body := get(t, pub+"/readyz")
	if st != 200 || strings.Contains(body, "sessions") || strings.Contains(body, "matches") {
		t.Fatalf("public /readyz: %d %s", st, body)
	}
	if st, body := get(t, adm+"/readyz"); st != 200 || !strings.Contains(body, `"sessions"`) {
		t.Fatalf("admin /readyz: %d %s", st, body)
	}
}
