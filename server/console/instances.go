package console

import (
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/cluster"
)

// sample is one reading of an instance's figures (the chart's points).
type sample struct {
	At       int64   `json:"t"` // unix milliseconds
	CPU      float64 `json:"cpu"`
	Memory   uint64  `json:"mem"`
	Sessions int     `json:"sessions"`
	Matches  int     `json:"matches"`
	Players  int     `json:"players"`
	TickP99  float64 `json:"tick_p99_ms"`
}

// instanceJSON is one instance as the console shows it.
type instanceJSON struct {
	Node     string    `json:"node"`
	Address  string    `json:"address"`
	Version  string    `json:"version"`
	Started  time.Time `json:"started"`
	Uptime   float64   `json:"uptime_s"`
	Health   string    `json:"health"` // ok, or degraded: why
	Self     bool      `json:"self"`   // the instance serving this console
	Sessions int       `json:"sessions"`
	Matches  int       `json:"matches"`
	Players  int       `json:"players"`
	CPU      float64   `json:"cpu"`    // cores
	Memory   uint64    `json:"memory"` // bytes
	TickP99  float64   `json:"tick_p99_ms"`
	Overruns uint64    `json:"overruns"`
	Samples  []sample  `json:"samples"`
}

// rings keeps the last n samples of every instance seen (by node name); an instance gone for
// longer than its ring spans is forgotten.
type rings struct {
	mu   sync.Mutex
	n    int
	by   map[string][]sample // guarded by mu
	last map[string]int64    // guarded by mu: the newest sample's time per node
}

func newRings(n int) *rings { return &rings{n: n, by: map[string][]sample{}, last: map[string]int64{}} }

func (r *rings) add(node string, s sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.At <= r.last[node] {
		return // the same heartbeat again
	}
	ring := append(r.by[node], s)
	if len(ring) > r.n {
		ring = append(ring[:0:0], ring[len(ring)-r.n:]...)
	}
	r.by[node], r.last[node] = ring, s.At
}

func (r *rings) get(node string) []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sample(nil), r.by[node]...)
}

func (r *rings) forgetOlder(than int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for node, at := range r.last {
		if at < than {
			delete(r.by, node)
			delete(r.last, node)
		}
	}
}

// sampler reads this instance's figures every SampleEvery, and the other instances' from the
// node registry's heartbeats (as the cluster bus last read them).
func (c *Console) sampler() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.SampleEvery)
	defer t.Stop()
	c.sampleOnce()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.sampleOnce()
		}
	}
}

func (c *Console) sampleOnce() {
	now := time.Now()
	c.rings.add(c.srv.NodeID(), localSample(c.srv.Stats(), now))
	if c.cluster != nil {
		for _, n := range c.cluster.Nodes() {
			if n.Name != c.srv.NodeID() && !n.Sampled.IsZero() {
				c.rings.add(n.Name, nodeSample(n))
			}
		}
	}
	c.rings.forgetOlder(now.Add(-time.Duration(c.cfg.Samples) * c.cfg.SampleEvery).UnixMilli())
}

func localSample(st server.NodeStats, now time.Time) sample {
	return sample{At: now.UnixMilli(), CPU: st.CPU, Memory: st.Memory, Sessions: st.Sessions, Matches: st.Matches,
		Players: st.Players, TickP99: float64(st.TickP99) / float64(time.Millisecond)}
}

func nodeSample(n cluster.NodeInfo) sample {
	return sample{At: n.Sampled.UnixMilli(), CPU: n.CPU, Memory: n.Memory, Sessions: n.Sessions, Matches: n.Matches,
		Players: n.Players, TickP99: n.TickP99 * 1e3}
}

// instances lists this instance (figures read now) and, in a cluster, every other live one
// (figures from its last heartbeat), by name.
func (c *Console) instances() []instanceJSON {
	now := time.Now()
	st := c.srv.Stats()
	self := instanceJSON{Node: c.srv.NodeID(), Address: c.srv.Owner().Address, Version: c.cfg.Version, Started: c.srv.Started(),
		Uptime: now.Sub(c.srv.Started()).Seconds(), Health: health(c.srv.Bus().Health()), Self: true,
		Sessions: st.Sessions, Matches: st.Matches, Players: st.Players, CPU: st.CPU, Memory: st.Memory,
		TickP99: float64(st.TickP99) / float64(time.Millisecond), Overruns: st.Overruns, Samples: c.rings.get(c.srv.NodeID())}
	if self.Address == "" && c.srv.Addr() != nil {
		self.Address = "http://" + c.srv.Addr().String()
	}
	out := []instanceJSON{self}
	if c.cluster != nil {
		for _, n := range c.cluster.Nodes() {
			if n.Name == self.Node {
				continue
			}
			h := "ok"
			if n.Health != "" {
				h = "degraded: " + n.Health
			}
			out = append(out, instanceJSON{Node: n.Name, Address: n.Address, Version: n.Version, Started: n.Started,
				Uptime: now.Sub(n.Started).Seconds(), Health: h, Sessions: n.Sessions, Matches: n.Matches, Players: n.Players,
				CPU: n.CPU, Memory: n.Memory, TickP99: n.TickP99 * 1e3, Overruns: n.Overruns, Samples: c.rings.get(n.Name)})
		}
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].Node < out[1+j].Node })
	return out
}

func health(err error) string {
	if err != nil {
		return "degraded: " + err.Error()
	}
	return "ok"
}

func (c *Console) handleInstances(w http.ResponseWriter, _ *http.Request, _ operator) {
	server.WriteJSON(w, http.StatusOK, map[string]any{"instances": c.instances()})
}
