package matchmaking

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the matchmaker's Prometheus metrics.
type Metrics struct {
	submitted         *prometheus.CounterVec
	outcomes          *prometheus.CounterVec
	refused           *prometheus.CounterVec
	matches           *prometheus.CounterVec
	backfills         *prometheus.CounterVec
	placementFailures *prometheus.CounterVec
	runs              *prometheus.CounterVec
	runSeconds        *prometheus.HistogramVec
	readSeconds       *prometheus.HistogramVec
	timeToMatch       *prometheus.HistogramVec
	phase             *prometheus.HistogramVec
	spread            *prometheus.HistogramVec
	leases            *prometheus.CounterVec
	openMatches       *prometheus.GaugeVec
	openLeftOut       *prometheus.CounterVec
	backfillRefused   *prometheus.CounterVec
	openWriteErrors   prometheus.Counter
	live              prometheus.Gauge
	parties           prometheus.Gauge
}

// NewMetrics builds the metrics (register them with Register).
func NewMetrics() *Metrics {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_matchmaking_" + name, Help: help}, labels)
	}
	hv := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tickrelay_matchmaking_" + name, Help: help, Buckets: buckets}, []string{"queue"})
	}
	return &Metrics{
		submitted:         cv("tickets_total", "Tickets opened.", "queue"),
		outcomes:          cv("outcomes_total", "Tickets ended, by outcome (matched, expired, cancelled).", "queue", "outcome"),
		refused:           cv("refused_total", "Ticket and party requests refused, by limit or reason.", "reason"),
		matches:           cv("matches_total", "Matches made, by the instance they were placed on.", "queue", "node"),
		backfills:         cv("backfills_total", "Backfills into running matches.", "queue"),
		placementFailures: cv("placement_failures_total", "Placements that failed (the tickets searched on).", "queue"),
		runs:              cv("runs_total", "Matcher runs, on arrival or full (timer: widening, expiry).", "queue", "kind"),
		runSeconds:        hv("run_seconds", "Time of one matcher run.", prometheus.ExponentialBuckets(0.00001, 4, 10)),
		readSeconds:       hv("read_seconds", "Time to bring a matcher run's view of its queue up to date (the changes since the last run, or the whole queue).", prometheus.ExponentialBuckets(0.00001, 4, 10)),
		timeToMatch:       hv("time_to_match_seconds", "From a ticket's creation to its match.", prometheus.ExponentialBuckets(0.005, 2, 14)),
		phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tickrelay_matchmaking_phase_seconds",
			Help:    "Where a ticket's time-to-match goes, by phase: stored (created → in the store, on the instance that took it), seen (created → its queue's matcher knew of it), queued (→ the run that read it began), claim (the run's claim of its groups), slot (a group waiting for a placement slot), place (creating the match and reserving its seats), finish (storing the outcomes), told (outcome → the long-poll that answered it, on the instance that answered). A remote placement's steps are place_create, place_locate and place_reserve.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 17)}, []string{"queue", "phase"}),
		spread: hv("skill_spread", "Highest minus lowest skill in a new match.", prometheus.ExponentialBuckets(10, 2, 8)),
		leases: cv("leases_total", "Times this instance took over a queue's lease (shared store).", "queue"),
		openMatches: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tickrelay_matchmaking_open_matches",
			Help: "Running matches with free seats across the cluster, as the queue's matcher last read them (a shared store; backfill queues)."}, []string{"queue"}),
		openLeftOut:     cv("open_left_out_total", "Open matches not read by a matcher run because the queue had more than max_open.", "queue"),
		backfillRefused: cv("backfill_refused_total", "Backfills refused by the match's owner (full or ended meanwhile): the tickets searched on.", "queue"),
		openWriteErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_matchmaking_open_write_errors_total", Help: "Failed writes of this instance's open matches to the shared board (retried at the next pass)."}),
		live:            prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickrelay_matchmaking_live_tickets", Help: "Tickets searching."}),
		parties:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickrelay_matchmaking_parties", Help: "Parties."}),
	}
}

// Register registers every metric with reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.submitted, m.outcomes, m.refused, m.matches, m.backfills, m.placementFailures,
		m.runs, m.runSeconds, m.readSeconds, m.timeToMatch, m.phase, m.spread, m.leases, m.live, m.parties,
		m.openMatches, m.openLeftOut, m.backfillRefused, m.openWriteErrors} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
