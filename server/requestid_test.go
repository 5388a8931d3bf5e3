package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every response carries X-Request-Id (the client's when sane, else a generated one) and JSON
// errors repeat it; requests are counted by route pattern and status.
func TestRequestIDsAndRouteMetrics(t *testing.T) {
	srv, err := New(Config{Secret: []byte("0123456789abcdef0123456789abcdef-rid")})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	get := func(path, id string) (*http.Response, apiError) {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		if id != "" {
			req.Header.Set(RequestIDHeader, id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]apiError
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body["error"]
	}
	resp, e := get("/v1/matches/m-nope", "trace-42.a_b")
	if resp.StatusCode != 404 || resp.Header.Get(RequestIDHeader) != "trace-42.a_b" || e.RequestID != "trace-42.a_b" {
		t.Fatalf("own id: %d %q %+v", resp.StatusCode, resp.Header.Get(RequestIDHeader), e)
	}
	resp, e = get("/no/such/route", "bad id\twith spaces")
	gen := resp.Header.Get(RequestIDHeader)
	if len(gen) != 16 || strings.Contains(gen, " ") || e.RequestID != gen {
		t.Fatalf("generated id: %q %+v", gen, e)
	}
	if resp, _ = get("/healthz", strings.Repeat("x", 65)); len(resp.Header.Get(RequestIDHeader)) != 16 {
		t.Fatalf("a 65-byte id was kept: %q", resp.Header.Get(RequestIDHeader))
	}
	r := srv.metrics.ops.requests
	if got := testutil.ToFloat64(r.WithLabelValues("GET /v1/matches/{id}", "404")); got != 1 {
		t.Fatalf("GET /v1/matches/{id} 404 counted %v", got)
	}
	if got := testutil.ToFloat64(r.WithLabelValues("unmatched", "404")); got != 1 {
		t.Fatalf("unmatched 404 counted %v", got)
	}
	if got := testutil.ToFloat64(r.WithLabelValues("GET /healthz", "200")); got != 1 {
		t.Fatalf("healthz counted %v", got)
	}
}
