package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Sched is a process's context switches, summed over its threads (/proc/PID/task/*/status:
// voluntary_ctxt_switches and nonvoluntary_ctxt_switches). A voluntary switch is a thread going
// to sleep (futex wait, epoll_wait, nanosleep, a blocking read): with few events per wake-up,
// the cost of a Go server on a VM is mostly these and the wake-ups that end them. An
// involuntary one is a thread preempted by the kernel's scheduler (another task wanted the CPU).
//
// Threads that exited before a reading are missing from it (Linux keeps no per-process sum of
// dead threads' switches in /proc); the Go runtime and the servers measured here do not end
// threads while they run.
type Sched struct {
	Voluntary, Involuntary int64
	Tasks                  int // threads read
}

// Total is voluntary + involuntary.
func (s Sched) Total() int64 { return s.Voluntary + s.Involuntary }

// ParseCtxSwitches reads voluntary_ctxt_switches and nonvoluntary_ctxt_switches from the
// contents of a /proc/…/status file.
func ParseCtxSwitches(b []byte) (vol, invol int64, err error) {
	seen := 0
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("voluntary_ctxt_switches:")):
			dst = &vol
		case bytes.HasPrefix(line, []byte("nonvoluntary_ctxt_switches:")):
			dst = &invol
		default:
			continue
		}
		f := strings.Fields(string(line))
		if len(f) < 2 {
			return 0, 0, fmt.Errorf("procstat: short line %q", line)
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("procstat: %q: %w", line, err)
		}
		*dst = v
		seen++
	}
	if seen < 2 {
		return 0, 0, errors.New("procstat: ctxt_switches missing from status")
	}
	return vol, invol, nil
}

// ReadSched sums the context switches of every thread of pid (0: this process).
func ReadSched(pid int) (Sched, error) {
	dir := procPath(pid, "task")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return Sched{}, err
	}
	var s Sched
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/status")
		if err != nil {
			continue // the thread exited meanwhile
		}
		v, i, err := ParseCtxSwitches(b)
		if err != nil {
			return Sched{}, err
		}
		s.Voluntary += v
		s.Involuntary += i
		s.Tasks++
	}
	if s.Tasks == 0 {
		return Sched{}, fmt.Errorf("procstat: no thread readable in %s", dir)
	}
	return s, nil
}

// IO is a process's read- and write-class system calls (/proc/PID/io syscr, syscw: read(2),
// readv, pread…, and write(2), writev, pwrite…; socket reads and writes made with read/write
// count, recvmsg/sendmsg do not). The kernel keeps these for the whole thread group, exited
// threads included.
type IO struct {
	ReadCalls, WriteCalls int64
}

// ParseIO parses syscr and syscw from the contents of /proc/PID/io.
func ParseIO(b []byte) (IO, error) {
	var io IO
	seen := 0
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("syscr:")):
			dst = &io.ReadCalls
		case bytes.HasPrefix(line, []byte("syscw:")):
			dst = &io.WriteCalls
		default:
			continue
		}
		f := strings.Fields(string(line))
		if len(f) < 2 {
			return IO{}, fmt.Errorf("procstat: short line %q", line)
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return IO{}, fmt.Errorf("procstat: %q: %w", line, err)
		}
		*dst = v
		seen++
	}
	if seen < 2 {
		return IO{}, errors.New("procstat: syscr/syscw missing from io")
	}
	return io, nil
}

// ReadIO reads /proc/PID/io (0: this process).
func ReadIO(pid int) (IO, error) {
	b, err := os.ReadFile(procPath(pid, "io"))
	if err != nil {
		return IO{}, err
	}
	return ParseIO(b)
}
