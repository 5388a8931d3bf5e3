package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// The Node load generator's protocol (bench/colyseus/loadgen.mjs): JSON lines. It sets up every
// client, starts sending and writes a "setup" event; then it answers the commands on its stdin:
//
//	{"cmd":"mark"}             the window starts: answered by a "mark" event with its counters
//	{"cmd":"mark","end":true}  the window ends: the same
//	{"cmd":"drain","ms":2000}  wait up to ms for the window's acks: answered by "final"
//	{"cmd":"close"}            leave every room and exit

type colyseusSetup struct {
	Clients         int               `json:"clients"`
	Joined          int               `json:"joined"`
	Measuring       int               `json:"measuring"`
	FailedSetup     int               `json:"failed_setup"`
	FailedJoins     int               `json:"failed_joins"`
	JoinCheckFailed int               `json:"join_check_failed"`
	SetupMS         int64             `json:"setup_ms"`
	Node            string            `json:"node"`
	Versions        map[string]string `json:"versions"`
	Errors          map[string]int    `json:"errors"`
}

type colyseusMark struct {
	End      bool    `json:"end"`
	MsgsIn   int64   `json:"msgs_in"`
	BytesIn  int64   `json:"bytes_in"`
	WireIn   int64   `json:"wire_in"`
	MsgsOut  int64   `json:"msgs_out"`
	BytesOut int64   `json:"bytes_out"`
	Late     int64   `json:"late"`
	Skipped  int64   `json:"skipped"`
	TMS      float64 `json:"t_ms"` // the Node process's clock, ms since it started
}

func (m colyseusMark) counters() counters {
	return counters{msgsIn: m.MsgsIn, bytesIn: m.BytesIn, wireIn: m.WireIn, msgsOut: m.MsgsOut, bytesOut: m.BytesOut, late: m.Late, skipped: m.Skipped}
}

type colyseusFinal struct {
	InputsInWindow int64          `json:"inputs_in_window"`
	Unacked        int64          `json:"unacked"`
	Dropped        int            `json:"dropped"`
	Errors         map[string]int `json:"errors"`
	LatNS          []int64        `json:"lat_ns"` // input → ack of every input sent in the window
}

// colyseusEvent is one line: its kind, and the line to decode as that kind's struct.
type colyseusEvent struct {
	Ev  string `json:"ev"`
	raw json.RawMessage
}

// colyseusClients is the running Node load generator.
type colyseusClients struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan colyseusEvent
	exited chan struct{}
	logF   *os.File
	err    error // why the event stream ended (set before events is closed)
}

// startColyseusClients starts one Node load generator process (number idx) for rooms rooms.
func startColyseusClients(cfg *Config, node, addr string, rooms, idx int) (*colyseusClients, error) {
	dir := filepath.Join(cfg.RepoDir, ColyseusDir)
	args := []string{filepath.Join(dir, "loadgen.mjs"), "--addr", addr, "--rooms", strconv.Itoa(rooms),
		"--players", strconv.Itoa(cfg.Players), "--interval-ms", strconv.FormatFloat(float64(cfg.Interval)/1e6, 'f', -1, 64),
		"--probe", strconv.FormatBool(cfg.Probe), "--concurrency", strconv.Itoa(cfg.SetupConcurrency)}
	if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		return nil, err
	}
	logF, err := os.Create(filepath.Join(cfg.LogDir, "colyseus-loadgen-"+strconv.Itoa(idx)+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = dir
	cmd.Stderr = logF
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logF.Close()
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logF.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logF.Close()
		return nil, fmt.Errorf("starting the colyseus load generator: %w", err)
	}
	c := &colyseusClients{cmd: cmd, stdin: stdin, events: make(chan colyseusEvent, 4), exited: make(chan struct{}), logF: logF}
	go func() {
		dec := json.NewDecoder(bufio.NewReaderSize(stdout, 1<<20))
		for {
			var ev colyseusEvent
			err := dec.Decode(&ev.raw)
			if err == nil {
				err = json.Unmarshal(ev.raw, &ev)
			}
			if err != nil {
				if err == io.EOF {
					err = errColyseusExited
				}
				c.err = fmt.Errorf("colyseus load generator (log %s): %w", logF.Name(), err)
				close(c.events)
				_ = cmd.Wait()
				close(c.exited)
				return
			}
			c.events <- ev
		}
	}()
	return c, nil
}

func (c *colyseusClients) pid() int { return c.cmd.Process.Pid }

// next waits for the next event, which must be want, and decodes it into out.
func (c *colyseusClients) next(want string, timeout time.Duration, out any) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ev, ok := <-c.events:
		if !ok {
			return c.err
		}
		if ev.Ev != want {
			return fmt.Errorf("colyseus load generator: got event %q, want %q", ev.Ev, want)
		}
		if err := json.Unmarshal(ev.raw, out); err != nil {
			return fmt.Errorf("colyseus load generator: event %q: %w", want, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("colyseus load generator: no %q event within %v (log %s)", want, timeout, c.logF.Name())
	}
}

func (c *colyseusClients) send(cmd map[string]any) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	_, err = c.stdin.Write(append(b, '\n'))
	return err
}

func (c *colyseusClients) setup(timeout time.Duration) (colyseusSetup, error) {
	var s colyseusSetup
	err := c.next("setup", timeout, &s)
	return s, err
}

func (c *colyseusClients) mark(end bool, timeout time.Duration) (colyseusMark, error) {
	if err := c.send(map[string]any{"cmd": "mark", "end": end}); err != nil {
		return colyseusMark{}, err
	}
	var m colyseusMark
	err := c.next("mark", timeout, &m)
	return m, err
}

func (c *colyseusClients) drain(d, timeout time.Duration) (colyseusFinal, error) {
	if err := c.send(map[string]any{"cmd": "drain", "ms": d.Milliseconds()}); err != nil {
		return colyseusFinal{}, err
	}
	var f colyseusFinal
	err := c.next("final", timeout, &f)
	return f, err
}

// stop asks the clients to leave and the process to exit; SIGKILL (by its pid) after 5 s.
func (c *colyseusClients) stop() {
	_ = c.send(map[string]any{"cmd": "close"})
	_ = c.stdin.Close()
	go func() { // drain what is left so that the reader reaches the end
		for range c.events {
		}
	}()
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(c.pid(), syscall.SIGKILL)
		<-c.exited
	}
	c.logF.Close()
}
