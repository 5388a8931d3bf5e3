package server

import (
	"regexp"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// registry is the server's Prometheus registry, remembering every collector registered on it
// (by the server and by the packages built on it: cluster, matchmaking, console), so that
// MetricNames can list every metric, even a vector that has no child yet. docs/METRICS.md is
// checked against it.
type registry struct {
	*prometheus.Registry
	mu sync.Mutex
	cs []prometheus.Collector // guarded by mu
}

func newRegistry() *registry { return &registry{Registry: prometheus.NewRegistry()} }

func (r *registry) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	r.mu.Lock()
	r.cs = append(r.cs, c)
	r.mu.Unlock()
	return nil
}

func (r *registry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *registry) Unregister(c prometheus.Collector) bool {
	if !r.Registry.Unregister(c) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.cs {
		if x == c {
			r.cs = append(r.cs[:i], r.cs[i+1:]...)
			break
		}
	}
	return true
}

// MetricDesc is one metric the server's registry can serve.
type MetricDesc struct {
	Name   string
	Help   string
	Labels []string // variable labels, sorted
}

// descRe reads a prometheus.Desc's String() (the library offers no accessors).
var descRe = regexp.MustCompile(`fqName: "([^"]+)", help: "((?:[^"\\]|\\.)*)".*variableLabels: \{([^}]*)\}`)

var labelRe = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// MetricNames lists every metric registered on the server's registry (the one /metrics
// serves), by name.
func (srv *Server) MetricNames() []MetricDesc {
	r := srv.metrics.reg
	r.mu.Lock()
	cs := append([]prometheus.Collector(nil), r.cs...)
	r.mu.Unlock()
	seen := map[string]MetricDesc{}
	for _, c := range cs {
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := descRe.FindStringSubmatch(d.String())
			if m == nil {
				continue
			}
			md := MetricDesc{Name: m[1], Help: m[2]}
			for _, l := range labelRe.FindAllString(m[3], -1) {
				md.Labels = append(md.Labels, l)
			}
			sort.Strings(md.Labels)
			seen[md.Name] = md
		}
	}
	out := make([]MetricDesc, 0, len(seen))
	for _, md := range seen {
		out = append(out, md)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
