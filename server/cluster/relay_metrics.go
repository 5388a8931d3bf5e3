package cluster

import "github.com/prometheus/client_golang/prometheus"

// relayMetrics are the relay's own metrics (the substrate's Metrics count the broker's
// publishes, receives, bytes, drops, Redis errors and reconnects).
type relayMetrics struct {
	publishes    prometheus.Counter
	publishBytes prometheus.Counter
	receives     prometheus.Counter
	receiveBytes prometheus.Counter
	ticks        prometheus.Counter
	gaps         prometheus.Counter
	repairs      prometheus.Counter
	retries      prometheus.Counter
	lost         prometheus.Counter
	bad          prometheus.Counter
	drops        *prometheus.CounterVec
	links        prometheus.Gauge
	latency      prometheus.Histogram
	instances    prometheus.Gauge
	load         *prometheus.GaugeVec
}

func newRelayMetrics(b *Bus) *relayMetrics {
	return &relayMetrics{
		publishes:    prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_relay_publishes_total", Help: "Relay messages published (match and node channels)."}),
		publishBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_relay_publish_bytes_total", Help: "Bytes of relay messages published."}),
		receives:     prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_relay_receives_total", Help: "Relay messages received."}),
		receiveBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_relay_receive_bytes_total", Help: "Bytes of relay messages received."}),
		ticks:        prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_relay_ticks_total", Help: "Tick publishes of local matches with a remote audience (one per match per tick)."}),
		gaps:         prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_relay_gaps_total", Help: "Sequence gaps detected on relayed match channels."}),
		repairs:      prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_relay_repairs_total", Help: "Relayed recipients repaired through the owner (catch-up or snapshot)."}),
		retries:      prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_relay_repair_retries_total", Help: "Repairs asked again because neither the request nor its answer arrived in time."}),
		lost:         prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_relay_matches_lost_total", Help: "Relayed matches ended with END LOST (owner gone)."}),
		bad:          prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_relay_bad_messages_total", Help: "Relay messages that did not decode."}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_relay_drops_total",
			Help: "Relay messages dropped, by where (publish_queue, publish_error, receive_queue, inbox)."}, []string{"where"}),
		links: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickrelay_relay_links", Help: "Remote matches this instance relays to local recipients."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tickrelay_relay_latency_seconds",
			Help:    "Time from queueing a relay message to the broker accepting it.",
			Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3, 1}}),
		instances: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickrelay_cluster_instances", Help: "Live instances in the node registry."}),
		load: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tickrelay_cluster_instance_load",
			Help: "Each live instance's load (sessions / capacity) from its heartbeat."}, []string{"node"}),
	}
}

func (m *relayMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.publishes, m.publishBytes, m.receives, m.receiveBytes, m.ticks, m.gaps, m.repairs,
		m.retries, m.lost, m.bad, m.drops, m.links, m.latency, m.instances, m.load}
}

func (m *relayMetrics) published(n int) {
	m.publishes.Inc()
	m.publishBytes.Add(float64(n))
}

func (m *relayMetrics) received(n int) {
	m.receives.Inc()
	m.receiveBytes.Add(float64(n))
}

func (m *relayMetrics) setNodes(ns []NodeInfo) {
	m.instances.Set(float64(len(ns)))
	m.load.Reset()
	for _, n := range ns {
		m.load.WithLabelValues(n.Name).Set(n.Load)
	}
}
