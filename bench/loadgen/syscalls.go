package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/tickrelay/tickrelay/bench/internal/procstat"
	"github.com/tickrelay/tickrelay/bench/internal/result"
)

// The system calls -syscalls counts one by one, beside the total (raw_syscalls:sys_enter): the
// socket reads and writes, and the ones that put a thread to sleep or wake one.
var countedSyscalls = []string{"read", "write", "writev", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_ctl",
	"futex", "nanosleep", "clock_nanosleep", "tgkill", "rt_sigreturn", "sched_yield", "getpid"}

// syscallCounter counts a process's system calls in the kernel with `perf stat` over the
// measured window (the -syscalls mode). perf counts the tracepoints without stopping the
// process (unlike strace), so the CPU figures of the same run stay usable; they still cost a
// little, which is why it is a mode and not the default.
type syscallCounter struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan error
}

// startSyscalls starts `perf stat -x, -e … -p pid -- sleep d`.
func startSyscalls(ctx context.Context, pid int, d time.Duration) (*syscallCounter, error) {
	if pid <= 0 {
		return nil, errors.New("-syscalls needs the server's pid")
	}
	args := []string{"stat", "-x", ",", "-e", "raw_syscalls:sys_enter"}
	for _, n := range countedSyscalls {
		args = append(args, "-e", "syscalls:sys_enter_"+n)
	}
	args = append(args, "-p", strconv.Itoa(pid), "--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
	c := &syscallCounter{cmd: exec.CommandContext(ctx, "perf", args...), done: make(chan error, 1)}
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	return c, nil
}

// finish waits for perf (it ends with its sleep) and returns the counts.
func (c *syscallCounter) finish(timeout time.Duration) *result.Syscalls {
	select {
	case err := <-c.done:
		sc, perr := parsePerfStat(c.stderr.Bytes())
		if perr != nil {
			if err != nil {
				perr = fmt.Errorf("%w (perf: %v)", perr, err)
			}
			return &result.Syscalls{Err: perr.Error()}
		}
		return sc
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill() // our own child, by its pid
		<-c.done
		return &result.Syscalls{Err: "perf did not finish in time"}
	}
}

// parsePerfStat reads `perf stat -x,` output: "count,unit,event,…" per line; "<not counted>"
// is 0 (the process made no such call).
func parsePerfStat(b []byte) (*result.Syscalls, error) {
	sc := &result.Syscalls{ByName: map[string]int64{}}
	total := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		var n int64
		switch v := strings.TrimSpace(f[0]); {
		case strings.HasPrefix(v, "<not counted>"):
		case strings.HasPrefix(v, "<not supported>"):
			return nil, fmt.Errorf("perf: %s not supported here", f[2])
		default:
			var err error
			if n, err = strconv.ParseInt(v, 10, 64); err != nil {
				continue // a comment or a warning
			}
		}
		switch ev := f[2]; {
		case ev == "raw_syscalls:sys_enter":
			sc.Total, total = n, true
		case strings.HasPrefix(ev, "syscalls:sys_enter_"):
			sc.ByName[strings.TrimPrefix(ev, "syscalls:sys_enter_")] = n
		}
	}
	if !total {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return nil, fmt.Errorf("perf stat printed no syscall count: %q", msg)
	}
	return sc, nil
}

// fillSched puts the server's kernel time, context switches and system calls into res.Server,
// per second of the window and per message both ways (msgs).
func fillSched(s *result.Server, u procstat.Usage, secs float64, msgs int64) {
	s.SysSeconds = round(u.ServerSys, 3)
	if u.HaveSched {
		s.CtxVoluntary, s.CtxInvoluntary = u.CtxVoluntary, u.CtxInvoluntary
		all := float64(u.CtxVoluntary + u.CtxInvoluntary)
		if secs > 0 {
			s.CtxPerSec = round(all/secs, 1)
		}
		if msgs > 0 {
			s.CtxPerMsg = round(all/float64(msgs), 4)
		}
	}
	if u.HaveIO && msgs > 0 {
		s.ReadCallsPerMsg = round(float64(u.ReadCalls)/float64(msgs), 4)
		s.WriteCallsPerMsg = round(float64(u.WriteCalls)/float64(msgs), 4)
	}
	if sc := s.Syscalls; sc != nil && sc.Err == "" {
		if secs > 0 {
			sc.PerSec = round(float64(sc.Total)/secs, 1)
		}
		if msgs > 0 {
			sc.PerMsg = round(float64(sc.Total)/float64(msgs), 4)
		}
	}
}
