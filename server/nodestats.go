package server

import (
	"os"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tickrelay/tickrelay/game"
)

// NodeStats are an instance's figures for operators (the console) and for the cluster's node
// registry (a cluster bus puts them in its heartbeats).
type NodeStats struct {
	Sessions int
	Matches  int
	Players  int           // seats taken in local matches (connected or dropped)
	CPU      float64       // CPU cores used by the process, averaged since the previous reading (≥ 1 s apart)
	Memory   uint64        // resident set size in bytes (Go's mapped memory where /proc is missing)
	TickP99  time.Duration // the worst local match's tick duration p99 (see game.Info.TickP99Micros)
	Overruns uint64        // ticks of local matches that overran their interval (running matches)
}

// Stats reads this instance's figures now. Safe from any goroutine; it walks the local match
// registry once (O(matches)).
func (srv *Server) Stats() NodeStats {
	st := NodeStats{Sessions: srv.hub.len(), CPU: srv.cpu.read(), Memory: residentBytes()}
	for _, i := range srv.reg.List(game.Filter{IncludePrivate: true}) {
		st.Matches++
		st.Players += i.Players
		st.Overruns += i.Overruns
		if d := time.Duration(i.TickP99Micros) * time.Microsecond; d > st.TickP99 {
			st.TickP99 = d
		}
	}
	return st
}

// Started is when this server was built.
func (srv *Server) Started() time.Time { return srv.started }

// Bus is the server's bus (the memory bus, or a cluster bus: callers type-assert for more).
func (srv *Server) Bus() Bus { return srv.bus }

// ConnStats are one session's connection figures: the round trip of the last WebSocket ping
// the server sent (0 before the first pong) and the bytes waiting in its outbound queue. The
// session is the game.Sink of its seat, so an operator view reads them from Match.Members.
func (s *session) ConnStats() (rtt time.Duration, queued int) {
	s.w.mu.Lock()
	queued = s.w.bytes
	s.w.mu.Unlock()
	return time.Duration(s.rtt.Load()), queued
}

// cpuMeter turns the process's CPU time into cores used between readings at least a second
// apart (readings closer than that return the last figure).
type cpuMeter struct {
	mu     sync.Mutex
	at     time.Time
	used   time.Duration
	last   float64
	window time.Duration
}

func (c *cpuMeter) read() float64 {
	now := time.Now()
	used := processCPU()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		c.at, c.used = now, used
		return 0
	}
	if d := now.Sub(c.at); d >= time.Second {
		c.last = float64(used-c.used) / float64(d)
		c.at, c.used = now, used
	}
	return c.last
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// residentBytes is the process's resident set size from /proc/self/statm, or the memory the Go
// runtime has mapped where /proc is missing.
func residentBytes() uint64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				return pages * uint64(os.Getpagesize())
			}
		}
	}
	s := []rtmetrics.Sample{{Name: "/memory/classes/total:bytes"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() == rtmetrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return 0
}
