package cluster

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the substrate's Prometheus metrics. The caller registers them (Collectors) in
// its own registry, the way server/metrics.go keeps one registry per server. A nil *Metrics
// counts nothing, so tests and tools may pass none.
type Metrics struct {
	publishes    prometheus.Counter
	publishBytes prometheus.Counter
	receives     prometheus.Counter
	receiveBytes prometheus.Counter
	drops        *prometheus.CounterVec
	redisErrors  *prometheus.CounterVec
	reconnects   prometheus.Counter
	healthy      prometheus.Gauge
}

// Drop reasons (the "reason" label of tickrelay_bus_drops_total).
const (
	DropHandoff  = "handoff"  // a handler's queue was full
	DropQueue    = "queue"    // the broker's receive queue was full
	DropInjected = "injected" // a memory network fault dropped it (tests)
	DropCut      = "cut"      // the connection was down
)

// NewMetrics creates the substrate's metrics (unregistered).
func NewMetrics() *Metrics {
	return &Metrics{
		publishes:    prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_bus_publishes_total", Help: "Messages published to the cluster broker."}),
		publishBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_bus_publish_bytes_total", Help: "Bytes published to the cluster broker."}),
		receives:     prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_bus_receives_total", Help: "Messages received from the cluster broker."}),
		receiveBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_bus_receive_bytes_total", Help: "Bytes received from the cluster broker."}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_bus_drops_total",
			Help: "Messages dropped by the cluster broker or its subscribers, by reason."}, []string{"reason"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_redis_errors_total",
			Help: "Failed Redis calls, by operation."}, []string{"op"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickrelay_bus_reconnects_total", Help: "Broker connections re-established (each one lost messages)."}),
		healthy:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickrelay_bus_healthy", Help: "1 while the cluster broker is healthy, 0 while degraded."}),
	}
}

// Collectors returns the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.publishes, m.publishBytes, m.receives, m.receiveBytes, m.drops, m.redisErrors, m.reconnects, m.healthy}
}

func (m *Metrics) published(n int) {
	if m != nil {
		m.publishes.Inc()
		m.publishBytes.Add(float64(n))
	}
}

func (m *Metrics) received(n int) {
	if m != nil {
		m.receives.Inc()
		m.receiveBytes.Add(float64(n))
	}
}

// Dropped counts a message dropped for reason (handlers use it for their own hand-off drops).
func (m *Metrics) Dropped(reason string) {
	if m != nil {
		m.drops.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) redisError(op string) {
	if m != nil {
		m.redisErrors.WithLabelValues(op).Inc()
	}
}

func (m *Metrics) reconnected() {
	if m != nil {
		m.reconnects.Inc()
	}
}

func (m *Metrics) setHealthy(ok bool) {
	if m != nil {
		if ok {
			m.healthy.Set(1)
		} else {
			m.healthy.Set(0)
		}
	}
}
