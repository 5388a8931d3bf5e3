// Package result is the JSON line one benchmark run writes: its parameters, the environment and
// every figure. The load generator appends these lines to a JSONL file; the report reads them
// back. Fields are only ever added (Schema says which shape a line has).
package result

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/tickrelay/tickrelay/bench/internal/hist"
)

// Schema is the version of the line's shape.
const Schema = 1

// Result is one run.
type Result struct {
	Schema   int     `json:"schema"`
	Time     string  `json:"time"`     // RFC 3339, when the run ended
	Scenario string  `json:"scenario"` // arena, floor, fanout, connect-storm, capacity
	Target   string  `json:"target"`   // what served it: floor, tickrelay, or external (-addr)
	Label    string  `json:"label,omitempty"`
	Params   Params  `json:"params"`
	Env      Env     `json:"env"`
	Verdict  Verdict `json:"verdict"`
	Noisy    bool    `json:"noisy"` // other user-space processes used much CPU during the window

	Clients   int     `json:"clients"`           // connections that took part (joined)
	Measuring int     `json:"measuring_clients"` // of which measured latency
	WindowS   float64 `json:"window_s"`          // the measured window as it really lasted

	Latency        *hist.Summary `json:"latency_ms,omitempty"` // input sent → first delta acking it
	InputsInWindow int64         `json:"inputs_in_window"`     // by measuring clients
	Unacked        int64         `json:"unacked"`              // of those, never acked (in Latency as lower bounds)
	DeltaGaps      int64         `json:"delta_gaps"`           // deltas whose base was not the last tick seen
	Spread         *hist.Summary `json:"spread_ms,omitempty"`  // fanout: a tick's receipt after its first receipt

	Server   Server    `json:"server"`
	Loadgen  Proc      `json:"loadgen"`
	Other    Proc      `json:"other"`  // other user-space processes on the machine: noisy when high
	Kernel   Proc      `json:"kernel"` // kernel threads and softirq charged to no process (part of the loopback traffic's cost)
	Traffic  Traffic   `json:"traffic"`
	Failures Failures  `json:"failures"`
	Storm    *Storm    `json:"storm,omitempty"`
	Capacity *Capacity `json:"capacity,omitempty"`
	Cluster  *Cluster  `json:"cluster,omitempty"`

	Matchmaking *Matchmaking `json:"matchmaking,omitempty"`
	IdleMatches *IdleMatches `json:"idle_matches,omitempty"`
	Check       *Check       `json:"check,omitempty"` // -check: the harness's own invariants on this run
}

// Check is the -check mode's verdict on the harness itself: does it count what it should (every
// input of the window acked once, counters that agree with the server's)? Items say each check
// and what was measured.
type Check struct {
	Pass  bool     `json:"pass"`
	Items []string `json:"items"`
}

// IdleMatches is idle-matches' figures: matches created and never joined, held by the server.
type IdleMatches struct {
	Created        int     `json:"created"`
	Alive          int     `json:"alive"`              // still there after the window
	CPUUsPerMatchS float64 `json:"cpu_us_per_match_s"` // µs of server CPU per match per second
}

// Matchmaking is the matchmaking workload's figures.
type Matchmaking struct {
	Instances       int                       `json:"instances"`
	Tickets         int                       `json:"tickets"`
	ArrivalS        float64                   `json:"arrival_s"` // from the first ticket to the last one opened
	Failed          int                       `json:"failed"`    // tickets whose HTTP calls failed
	Outcomes        map[string]map[string]int `json:"outcomes"`  // queue → status → tickets
	Queues          map[string]*MMQueue       `json:"queues"`
	Placement       map[string]int            `json:"placement"`          // instance address → matches placed there
	TicketsPerCoreS float64                   `json:"tickets_per_core_s"` // tickets per second of server CPU
	// Phases is where the time-to-match went, from the servers' phase histograms summed over
	// the instances (tickrelay_matchmaking_phase_seconds): queue → phase → figures.
	Phases map[string]map[string]MMPhase `json:"phases,omitempty"`
}

// MMPhase is one phase's figures (quantiles estimated from the histogram's buckets).
type MMPhase struct {
	Count  int64   `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
}

// MMQueue is one queue's figures.
type MMQueue struct {
	Matches         int          `json:"matches"`
	PlayersPerMatch float64      `json:"players_per_match"`
	TimeToMatch     hist.Summary `json:"time_to_match_ms"` // the server's waited_ms: ticket created → matched
	Observed        hist.Summary `json:"observed_ms"`      // the client's: POST sent → long-poll answered matched
	SpreadMean      float64      `json:"skill_spread_mean"`
	SpreadP50       float64      `json:"skill_spread_p50"`
	SpreadP99       float64      `json:"skill_spread_p99"`
	SpreadMax       float64      `json:"skill_spread_max"`
}

// Params are the run's inputs.
type Params struct {
	Matches     int      `json:"matches,omitempty"`
	Players     int      `json:"players,omitempty"`
	Spectators  int      `json:"spectators,omitempty"`
	Connections int      `json:"connections,omitempty"`
	Batch       int      `json:"batch,omitempty"`
	IdleS       float64  `json:"idle_s,omitempty"`
	Game        string   `json:"game,omitempty"`
	Probe       bool     `json:"probe"`
	InputHz     float64  `json:"input_hz,omitempty"`
	WarmupS     float64  `json:"warmup_s,omitempty"`
	DurationS   float64  `json:"duration_s,omitempty"`
	DrainS      float64  `json:"drain_s,omitempty"`
	Addr        string   `json:"addr,omitempty"`
	ServerArgs  string   `json:"server_args,omitempty"` // the argument template the server was started with
	ServerEnv   []string `json:"server_env,omitempty"`
	Trial       string   `json:"trial,omitempty"`   // capacity search: "rep/step"
	Senders     int      `json:"senders,omitempty"` // input-sending goroutines of the load generator (gws clients)
	Client      string   `json:"client,omitempty"`  // arena, floor: the load generator's clients, epoll (pools) or gws
	Pools       int      `json:"pools,omitempty"`   // epoll clients: pools (one goroutine each)
	Tickets     int      `json:"tickets,omitempty"` // matchmaking
	Rate        float64  `json:"rate,omitempty"`    // matchmaking: tickets per second
}

// Env says where the run happened.
type Env struct {
	Commit     string `json:"commit,omitempty"`
	GoVersion  string `json:"go_version"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	ClockTicks int64  `json:"clk_tck"`
	Kernel     string `json:"kernel,omitempty"`
}

// Verdict is the pass/fail line: for arena and fanout "p99 < 100 ms and no drops".
type Verdict struct {
	Pass   bool   `json:"pass"`
	Reason string `json:"reason"`
}

// Server is the server process's cost over the window.
type Server struct {
	PID               int      `json:"pid,omitempty"`
	CPUSeconds        float64  `json:"cpu_s"`
	CPUCores          float64  `json:"cpu_cores"`                 // cpu_s / window_s
	CPUMsPerClientSec float64  `json:"cpu_ms_per_client_s"`       // the headline cost
	CPUUsPerMsg       float64  `json:"cpu_us_per_msg,omitempty"`  // per message delivered to clients
	UserSeconds       float64  `json:"cpu_user_s,omitempty"`      // the user-space part of cpu_s (utime): the server's own code
	UserUsPerMsg      float64  `json:"user_us_per_msg,omitempty"` // user-space CPU per message delivered
	CPUMsPerMB        float64  `json:"cpu_ms_per_mb,omitempty"`   // per MB delivered to clients
	RSSEndMB          float64  `json:"rss_end_mb"`                // VmRSS at the end of the window
	RSSPeakMB         float64  `json:"rss_peak_mb"`               // max VmRSS sampled in the window
	HWMMB             float64  `json:"hwm_mb"`                    // VmHWM: peak since the process started
	Threads           int64    `json:"threads,omitempty"`         // at the end of the window
	Goroutines        int64    `json:"goroutines,omitempty"`      // go_goroutines from /metrics, if exposed
	TickP99Ms         *float64 `json:"tick_p99_ms,omitempty"`     // from the tick-duration histogram in /metrics, if exposed
	TickSamples       int64    `json:"tick_samples,omitempty"`    // ticks that histogram counted in the window
	ReadErr           string   `json:"read_err,omitempty"`        // why /proc could not be read

	// Where the CPU goes: the kernel's share, and the wake-ups behind it. "Per message" counts
	// messages both ways (server → clients and clients → server, i.e. traffic's msgs_in + msgs_out).
	SysSeconds        float64   `json:"cpu_sys_s,omitempty"`           // the kernel part of cpu_s (stime)
	CtxVoluntary      int64     `json:"ctx_voluntary,omitempty"`       // over the window, summed over /proc/PID/task/*/status
	CtxInvoluntary    int64     `json:"ctx_involuntary,omitempty"`     // preemptions
	CtxPerSec         float64   `json:"ctx_per_s,omitempty"`           // both kinds
	CtxPerMsg         float64   `json:"ctx_per_msg,omitempty"`         // both kinds, per message both ways
	ReadCallsPerMsg   float64   `json:"read_calls_per_msg,omitempty"`  // /proc/PID/io syscr (read, readv…)
	WriteCallsPerMsg  float64   `json:"write_calls_per_msg,omitempty"` // /proc/PID/io syscw (write, writev…)
	Syscalls          *Syscalls `json:"syscalls,omitempty"`            // -syscalls: every system call, counted by perf
	Gomaxprocs        *float64  `json:"gomaxprocs,omitempty"`          // go_sched_gomaxprocs_threads at the end of the window, if exposed
	GomaxprocsChanges *float64  `json:"gomaxprocs_changes,omitempty"`  // tickrelay_gomaxprocs_changes_total over the window (--gomaxprocs auto)
	Note              string    `json:"note,omitempty"`                // e.g. "no -server-pid: server CPU unknown"
}

// Syscalls is the server's system calls over the window, counted in the kernel by
// `perf stat -e raw_syscalls:sys_enter -e syscalls:sys_enter_… -p PID` (the -syscalls mode).
type Syscalls struct {
	Total  int64            `json:"total"`
	PerSec float64          `json:"per_s"`
	PerMsg float64          `json:"per_msg"`           // per message both ways
	ByName map[string]int64 `json:"by_name,omitempty"` // the calls counted one by one (read, write, futex, …)
	Err    string           `json:"err,omitempty"`     // why perf could not count them
}

// Proc is a CPU figure for something other than the server.
type Proc struct {
	CPUSeconds float64 `json:"cpu_s"`
	CPUCores   float64 `json:"cpu_cores"`
	// the load generator's: CPU per client-second and per message (both ways) of the window
	CPUMsPerClientSec float64 `json:"cpu_ms_per_client_s,omitempty"`
	CPUUsPerMsg       float64 `json:"cpu_us_per_msg,omitempty"`
}

// Traffic is counted by the load generator over the window: "in" is server → clients, "out" is
// clients → server. Bytes are WebSocket payload bytes; wire adds the frame headers.
type Traffic struct {
	MsgsInPerSec            float64 `json:"msgs_in_per_s"`
	BytesInPerSec           float64 `json:"bytes_in_per_s"`
	MsgsOutPerSec           float64 `json:"msgs_out_per_s"`
	BytesOutPerSec          float64 `json:"bytes_out_per_s"`
	AvgMsgIn                float64 `json:"avg_msg_in_bytes"`
	AvgMsgOut               float64 `json:"avg_msg_out_bytes"`
	BytesInPerClientSec     float64 `json:"bytes_in_per_client_s"`
	WireBytesInPerClientSec float64 `json:"wire_bytes_in_per_client_s"`
}

// Failures are everything that went wrong; the verdict needs all of them zero except late sends.
type Failures struct {
	FailedSetup     int            `json:"failed_setup"`      // auth, match creation or connection failed
	FailedJoins     int            `json:"failed_joins"`      // JOIN refused or not answered
	JoinCheckFailed int            `json:"join_check_failed"` // matches without exactly P members
	Dropped         int            `json:"dropped"`           // connections the server closed (or lost) during the run
	LateSends       int64          `json:"late_sends"`        // inputs sent >5 ms after their slot: the load generator is behind
	SkippedSends    int64          `json:"skipped_sends"`     // inputs not sent because a whole period was missed
	Errors          map[string]int `json:"errors,omitempty"`  // reasons, counted
}

// Storm is connect-storm's figures.
type Storm struct {
	Target         int          `json:"target"`
	Connected      int          `json:"connected"`
	Failures       int          `json:"failures"`
	OpenSeconds    float64      `json:"open_s"`
	AcceptedPerSec float64      `json:"accepted_per_s"`
	Handshake      hist.Summary `json:"handshake_ms"` // TCP connect + WebSocket upgrade
	Join           hist.Summary `json:"join_ms"`      // guest auth + handshake + WELCOME + JOINED
	RSSBeforeMB    float64      `json:"rss_before_mb"`
	RSSIdleMB      float64      `json:"rss_idle_mb"`
	RSSAfterMB     float64      `json:"rss_after_mb"`
	RSSPerConnKB   float64      `json:"rss_per_conn_kb"`
	Goroutines     *[3]int64    `json:"goroutines,omitempty"` // before, during, after (go_goroutines)
	CloseSeconds   float64      `json:"close_s"`
	// The idle phase alone (every connection open and joined, no traffic): the cost of holding them.
	IdleCPUCores      float64 `json:"idle_cpu_cores,omitempty"`
	IdleCPUUsPerConnS float64 `json:"idle_cpu_us_per_conn_s,omitempty"` // µs of server CPU per connection per second
	IdleCtxPerSec     float64 `json:"idle_ctx_per_s,omitempty"`         // the server's context switches per second
}

// Capacity is the capacity search's answer.
type Capacity struct {
	Players  int   `json:"players"`
	MaxM     []int `json:"max_m"`      // per repetition: the largest M that passed
	Clients  []int `json:"clients"`    // MaxM × Players
	Trials   int   `json:"trials"`     // runs made
	Ceiling  bool  `json:"ceiling"`    // the search stopped at -capacity-max, not at a failure
	StartM   int   `json:"start_m"`    // the first M tried
	Resolved int   `json:"resolution"` // the search stops when pass and fail are this close (matches)
	// trials of each repetition (noisy retries included) and the whole search's duration
	TrialsPerRep []int   `json:"trials_per_rep,omitempty"`
	Seconds      float64 `json:"seconds,omitempty"`
}

// NewEnv fills Env for this process; commit comes from `git rev-parse --short HEAD` run in dir.
func NewEnv(dir string, numCPU, gomaxprocs int, clk int64) Env {
	e := Env{GoVersion: runtime.Version(), NumCPU: numCPU, GOMAXPROCS: gomaxprocs, ClockTicks: clk}
	cmd := exec.Command("git", "rev-parse", "--short", "HEAD")
	cmd.Dir = dir
	if out, err := cmd.Output(); err == nil {
		e.Commit = strings.TrimSpace(string(out))
		st := exec.Command("git", "status", "--porcelain", "--untracked-files=no")
		st.Dir = dir
		if out, err := st.Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
			e.Commit += "-dirty"
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(b))
	}
	return e
}

// Line returns r as one JSON line (with the trailing newline).
func Line(r *Result) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Append appends r as one line to the file at path, creating it and its directory.
func Append(path string, r *Result) error {
	line, err := Line(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Read parses JSON lines from rd. Blank lines are skipped; a line that does not parse is an
// error naming its line number.
func Read(rd io.Reader) ([]Result, error) {
	var out []Result
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r Result
		if err := json.Unmarshal(line, &r); err != nil {
			return out, fmt.Errorf("line %d: %w", n, err)
		}
		if r.Schema == 0 {
			return out, fmt.Errorf("line %d: not a result line (no schema)", n)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// ReadFiles reads and concatenates the lines of every file, in order.
func ReadFiles(paths ...string) ([]Result, error) {
	var all []Result
	var errs []error
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rs, err := Read(f)
		f.Close()
		all = append(all, rs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	return all, errors.Join(errs...)
}

// Cluster is arena-cluster's figures: several instances and a Redis.
type Cluster struct {
	Instances      []Instance    `json:"instances"`
	Spread         int           `json:"spread"`          // instances each match's players are spread over (the owner + spread-1 remote)
	RedisCPU       Proc          `json:"redis"`           // redis-server's CPU over the window
	RedisRSSMB     float64       `json:"redis_rss_mb"`    // at the end of the window
	Publishes      float64       `json:"publishes_per_s"` // PUBLISH calls Redis served per second
	PublishesTick  float64       `json:"publishes_per_match_tick"`
	StatePerTick   float64       `json:"state_publishes_per_match_tick"` // relay tick publishes (tickrelay_relay_ticks_total) per match tick
	RelayBytesSec  float64       `json:"relay_bytes_per_s"`              // bytes the instances published
	Deliveries     float64       `json:"deliveries_per_s"`               // relay messages the instances received (Redis' fan-out)
	RelayDrops     int64         `json:"relay_drops"`                    // relay messages dropped by the instances (tickrelay_relay_drops_total)
	PublishP99Ms   float64       `json:"relay_publish_p99_ms"`           // queued → published by Redis (tickrelay_relay_latency_seconds)
	Local          *hist.Summary `json:"local_latency_ms,omitempty"`     // players on their match's owner
	Relayed        *hist.Summary `json:"relayed_latency_ms,omitempty"`   // players on another instance
	AddedP99Ms     float64       `json:"added_p99_ms"`                   // relayed p99 − local p99
	ProcessExits   int           `json:"process_exits"`                  // instances that exited (not the one a fault killed)
	LocalDropped   int           `json:"local_dropped"`                  // owner-side players disconnected
	RelayedDropped int           `json:"relayed_dropped"`                // remote players disconnected (on a live instance)
	Fault          *Fault        `json:"fault,omitempty"`
}

// Instance is one server process of a cluster run.
type Instance struct {
	Node              string  `json:"node"`
	PID               int     `json:"pid"`
	Clients           int     `json:"clients"`
	CPUSeconds        float64 `json:"cpu_s"`
	CPUCores          float64 `json:"cpu_cores"`
	CPUMsPerClientSec float64 `json:"cpu_ms_per_client_s"`
	RSSEndMB          float64 `json:"rss_end_mb"`
	Matches           int     `json:"matches_owned"`
}

// Fault is what a fault injected into a cluster run did.
type Fault struct {
	Kind            string    `json:"kind"`
	AtS             float64   `json:"at_s"`                         // into the window
	ForS            float64   `json:"for_s"`                        // how long Redis stayed away
	DegradedAfterMs []float64 `json:"degraded_after_ms"`            // per instance: /readyz reported degraded (−1: never; a killed one: unreachable)
	RecoveredMs     float64   `json:"recovered_ms,omitempty"`       // Redis faults, after the fault ended: every remote player acked again (−1: not in 10 s)
	SubscriberCuts  int       `json:"subscriber_cuts,omitempty"`    // redis-obl: subscriber connections Redis cut
	LostEnds        int       `json:"lost_ends,omitempty"`          // instance-kill9: END frames the affected players got
	LostEndsExpect  int       `json:"lost_ends_expected,omitempty"` // affected players: relayed players of a match the killed instance owned
	LostEndMs       float64   `json:"lost_end_ms,omitempty"`        // after the kill: the last affected player's definitive outcome (END, or playing on the new owner) (−1: not all in time)
	Followed        int       `json:"followed,omitempty"`           // instance-kill9: affected players playing again on the match's new owner (an input sent after the kill acked)
}
