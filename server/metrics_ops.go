package server

import (
	"net/http"
	"runtime"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickrelay/tickrelay/game"
)

// opsMetrics are the metrics an operator runs an instance by: seats, the players' comings and
// goings, the HTTP API, the build. Reasons are lowercase label values (leave reasons' names).
type opsMetrics struct {
	joins    *prometheus.CounterVec // game
	rejoins  *prometheus.CounterVec // game
	leaves   *prometheus.CounterVec // game, reason
	drops    *prometheus.CounterVec // game
	resumes  *prometheus.CounterVec // result
	requests *prometheus.CounterVec // route, status
	latency  *prometheus.HistogramVec
}

func (m *metrics) addOps(version string, players func() float64) {
	o := &m.ops
	o.joins = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_joins_total", Help: "Seats taken by new players, by game."}, []string{"game"})
	o.rejoins = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_rejoins_total", Help: "Seated players who came back with a JOIN (after a drop, or from a second connection), by game."}, []string{"game"})
	o.leaves = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_leaves_total", Help: "Seats freed for good, by game and reason (left, kicked, timeout, ended, ...)."}, []string{"game", "reason"})
	o.drops = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_drops_total", Help: "Members whose connection was lost while seated (the seat waits for the reconnect grace), by game."}, []string{"game"})
	o.resumes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_resumes_total", Help: "RESUMEs of a dropped session, by result (resumed, refused)."}, []string{"result"})
	o.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_http_requests_total", Help: "HTTP requests (public and admin listeners), by route pattern and status."}, []string{"route", "status"})
	o.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tickrelay_http_request_duration_seconds", Help: "HTTP request latency by route pattern (SSE streams and WebSocket sessions excluded: they last).",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}}, []string{"route"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tickrelay_build_info", Help: "Always 1, labelled with the server's version and Go version."}, []string{"version", "go_version"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	m.reg.MustRegister(o.joins, o.rejoins, o.leaves, o.drops, o.resumes, o.requests, o.latency, build,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickrelay_players", Help: "Seats taken in this instance's matches (connected or dropped)."}, players))
}

// Member implements game.MemberMetrics.
func (x *matchMetrics) Member(event, reason string) {
	o := &x.m.ops
	switch event {
	case game.MemberJoined:
		o.joins.WithLabelValues(x.game).Inc()
	case game.MemberRejoined:
		o.rejoins.WithLabelValues(x.game).Inc()
	case game.MemberDropped:
		o.drops.WithLabelValues(x.game).Inc()
	case game.MemberLeft:
		o.leaves.WithLabelValues(x.game, strings.ToLower(reason)).Inc()
	}
}

// instrument counts every request handled by mux's routes, by pattern and status, and times
// the ones that end (not WebSockets or SSE streams). It also gives each request its id.
func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := nowFunc()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		withRequestID(rw, r)
		h.ServeHTTP(rw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if !rw.long {
			m.ops.latency.WithLabelValues(route).Observe(nowFunc().Sub(start).Seconds())
		}
		m.ops.requests.WithLabelValues(route, statusLabel(rw.status)).Inc()
	})
}
