package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// metrics are the server's Prometheus metrics, in a registry of its own (several servers can
// live in one test process). It implements game.Metrics for the match runtime.
type metrics struct {
	reg           *registry
	sessions      prometheus.Gauge
	framesOut     prometheus.Counter
	slowCloses    prometheus.Counter
	authFailures  prometheus.Counter
	badFrames     prometheus.Counter
	rateLimited   *prometheus.CounterVec
	inputsDropped prometheus.Counter
	rejected      *prometheus.CounterVec
	limited       *prometheus.CounterVec
	sseStreams    prometheus.Gauge
	sseEncoded    prometheus.Counter
	tickSeconds   *prometheus.HistogramVec
	tickOverruns  *prometheus.CounterVec
	inboxDepth    *prometheus.HistogramVec
	deltaBytes    *prometheus.CounterVec
	deltaFrames   *prometheus.CounterVec
	matchesEnded  *prometheus.CounterVec
	// messagesRefused: MESSAGEs refused by the match (relay budget, or the sender's share);
	// payloadsRefused: payloads deeper than the payload depth budget (messages, published events, params).
	messagesRefused prometheus.Counter
	payloadsRefused prometheus.Counter
	matchLimited    *prometheus.CounterVec
	ops             opsMetrics // metrics_ops.go
	// The tick reader (tickread.go): read loops parked, hand-backs to gws, frames the matches read.
	tickParks, tickHandBacks, tickFrames prometheus.Counter
}

func newMetrics(matches func() float64) *metrics {
	m := &metrics{reg: newRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.sessions = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickrelay_sessions", Help: "Open WebSocket sessions."})
	m.framesOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_frames_out_total", Help: "Frames queued to sessions."})
	m.slowCloses = prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_slow_closes_total", Help: "Sessions closed because the client did not read fast enough."})
	m.authFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_auth_failures_total", Help: "Refused tokens and tickets."})
	m.badFrames = prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_bad_frames_total", Help: "Malformed or unknown inbound frames."})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_rate_limited_total", Help: "Client messages (every op) and WebSocket pings refused by the per-connection rate limit, by op."}, []string{"op"})
	m.inputsDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_inputs_dropped_total", Help: "Inputs dropped because the sender's share of the match inbox was used up this tick."})
	m.messagesRefused = prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_messages_refused_total", Help: "MESSAGEs refused (the sender got an ERROR): the match's relay budget or the sender's share of it was used up this tick."})
	m.payloadsRefused = prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_payloads_too_deep_total", Help: "Payloads refused for nesting deeper than the payload depth budget (messages, published events, match params)."})
	m.matchLimited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_match_limited_total", Help: "Messages a match's limits refused or replaced, by game and reason (input_share, message_share, relay_budget, requests, payload_depth, sync_coalesced)."}, []string{"game", "reason"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_upgrades_rejected_total", Help: "WebSocket upgrades refused, by reason."}, []string{"reason"})
	m.limited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_limit_refusals_total", Help: "Requests refused by a configured limit, by limit."}, []string{"limit"})
	m.sseStreams = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickrelay_sse_streams", Help: "Open Server-Sent Event streams."})
	m.sseEncoded = prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_sse_events_encoded_total", Help: "SSE events encoded (once per frame per streamed match, whatever the number of streams)."})
	m.tickSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tickrelay_tick_duration_seconds", Help: "Time to run one match tick.",
		Buckets: []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3}}, []string{"game"})
	m.tickOverruns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_tick_overruns_total", Help: "Ticks that took longer than the tick interval."}, []string{"game"})
	m.inboxDepth = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tickrelay_inbox_depth", Help: "Messages left in a match inbox after a tick.",
		Buckets: []float64{0, 1, 4, 16, 64, 256}}, []string{"game"})
	m.deltaBytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_delta_bytes_total", Help: "Bytes of encoded delta shared parts (encoded once per tick)."}, []string{"game"})
	m.deltaFrames = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_delta_recipients_total", Help: "Delta frames handed to members and spectators."}, []string{"game"})
	m.matchesEnded = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_matches_ended_total", Help: "Matches ended, by reason."}, []string{"game", "reason"})
	m.tickParks = prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_tick_read_parks_total", Help: "Times a connection's read loop parked while its match reads the socket before each tick (--read-mode tick)."})
	m.tickHandBacks = prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_tick_read_handbacks_total", Help: "Times a match handed a parked connection back to its read loop (a message other than INPUT, a control frame, an error, a close, a change of match)."})
	m.tickFrames = prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_tick_read_frames_total", Help: "INPUT and pong frames read by matches before their tick (not by the read loop)."})
	for _, c := range []prometheus.Collector{m.tickParks, m.tickHandBacks, m.tickFrames, m.sessions, m.framesOut, m.slowCloses, m.authFailures, m.badFrames, m.rateLimited,
		m.inputsDropped, m.messagesRefused, m.payloadsRefused, m.matchLimited, m.rejected, m.limited, m.sseStreams, m.sseEncoded, m.tickSeconds, m.tickOverruns, m.inboxDepth, m.deltaBytes, m.deltaFrames, m.matchesEnded} {
		f(c)
	}
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickrelay_matches", Help: "Running matches on this instance."}, matches))
	return m
}

// Match implements game.Metrics: the per-game children are looked up once per match.
func (m *metrics) Match(g string) game.MatchMetrics {
	return &matchMetrics{m: m, game: g, tick: m.tickSeconds.WithLabelValues(g), overruns: m.tickOverruns.WithLabelValues(g),
		inbox: m.inboxDepth.WithLabelValues(g), bytes: m.deltaBytes.WithLabelValues(g), frames: m.deltaFrames.WithLabelValues(g)}
}

type matchMetrics struct {
	m        *metrics
	game     string
	tick     prometheus.Observer
	overruns prometheus.Counter
	inbox    prometheus.Observer
	bytes    prometheus.Counter
	frames   prometheus.Counter
}

func (x *matchMetrics) Tick(d time.Duration, overrun bool) {
	x.tick.Observe(d.Seconds())
	if overrun {
		x.overruns.Inc()
	}
}
func (x *matchMetrics) Delta(bytes, recipients int) {
	x.bytes.Add(float64(bytes))
	x.frames.Add(float64(recipients))
}
func (x *matchMetrics) Inbox(depth int) { x.inbox.Observe(float64(depth)) }

// Limited implements game.LimitMetrics (safe from any goroutine, as Prometheus counters are).
func (x *matchMetrics) Limited(reason string) { x.m.matchLimited.WithLabelValues(x.game, reason).Inc() }
func (x *matchMetrics) Ended(r protocol.EndReason) {
	name := "unknown"
	for _, e := range protocol.Codes().End {
		if e.Value == int(r) {
			name = e.Name
		}
	}
	x.m.matchesEnded.WithLabelValues(x.game, name).Inc()
}

func promHandler(m *metrics) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
