// Package procstat reads the few /proc figures the load generator reports: a process's CPU time
// (utime+stime from /proc/PID/stat), its memory (VmRSS and VmHWM from /proc/PID/status) and the
// machine's CPU time (the "cpu" line of /proc/stat). The parsers take bytes so they can be tested
// without a /proc.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// DefaultClockTicks is USER_HZ on every Linux build we run on; ClockTicks falls back to it when
// `getconf CLK_TCK` is not available.
const DefaultClockTicks = 100

var (
	clkOnce sync.Once
	clkTck  int64
)

// ClockTicks returns the number of clock ticks per second that /proc/*/stat counts in, read once
// from `getconf CLK_TCK` (100 if that fails).
func ClockTicks() int64 {
	clkOnce.Do(func() {
		clkTck = DefaultClockTicks
		out, err := exec.Command("getconf", "CLK_TCK").Output()
		if err != nil {
			return
		}
		if v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && v > 0 {
			clkTck = v
		}
	})
	return clkTck
}

// ProcCPU is a process's CPU time in clock ticks.
type ProcCPU struct {
	UTime, STime   int64
	CUTime, CSTime int64 // of its children that it has waited for
	Threads        int64
	Flags          uint64
}

// pfKthread is PF_KTHREAD in the flags field: a kernel thread.
const pfKthread = 0x00200000

// Kthread reports whether the task is a kernel thread (ksoftirqd, kworker, …).
func (p ProcCPU) Kthread() bool { return p.Flags&pfKthread != 0 }

// Total is utime + stime.
func (p ProcCPU) Total() int64 { return p.UTime + p.STime }

// ParseProcStat parses the contents of /proc/PID/stat. The command name (field 2) is in
// parentheses and may itself contain spaces and parentheses, so fields are counted from the last
// ')'.
func ParseProcStat(b []byte) (ProcCPU, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ProcCPU{}, errors.New("procstat: no ')' in stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime 15, num_threads 20.
	if len(f) < 18 {
		return ProcCPU{}, fmt.Errorf("procstat: stat has %d fields after comm", len(f))
	}
	var p ProcCPU
	var err error
	if p.UTime, err = strconv.ParseInt(f[14-3], 10, 64); err != nil {
		return ProcCPU{}, fmt.Errorf("procstat: utime: %w", err)
	}
	if p.STime, err = strconv.ParseInt(f[15-3], 10, 64); err != nil {
		return ProcCPU{}, fmt.Errorf("procstat: stime: %w", err)
	}
	if p.CUTime, err = strconv.ParseInt(f[16-3], 10, 64); err != nil {
		return ProcCPU{}, fmt.Errorf("procstat: cutime: %w", err)
	}
	if p.CSTime, err = strconv.ParseInt(f[17-3], 10, 64); err != nil {
		return ProcCPU{}, fmt.Errorf("procstat: cstime: %w", err)
	}
	if p.Threads, err = strconv.ParseInt(f[20-3], 10, 64); err != nil {
		return ProcCPU{}, fmt.Errorf("procstat: num_threads: %w", err)
	}
	if p.Flags, err = strconv.ParseUint(f[9-3], 10, 64); err != nil {
		return ProcCPU{}, fmt.Errorf("procstat: flags: %w", err)
	}
	return p, nil
}

// Mem is a process's resident memory in kB.
type Mem struct {
	RSSKB int64 // VmRSS: resident now
	HWMKB int64 // VmHWM: peak resident since the process started
}

// ParseStatus parses VmRSS and VmHWM from the contents of /proc/PID/status.
func ParseStatus(b []byte) (Mem, error) {
	var m Mem
	var seen int
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &m.RSSKB
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &m.HWMKB
		default:
			continue
		}
		f := strings.Fields(string(line))
		if len(f) < 2 {
			return Mem{}, fmt.Errorf("procstat: short line %q", line)
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return Mem{}, fmt.Errorf("procstat: %q: %w", line, err)
		}
		*dst = v
		seen++
	}
	if seen < 2 {
		return Mem{}, errors.New("procstat: VmRSS/VmHWM missing from status")
	}
	return m, nil
}

// SysCPU is the machine's CPU time over all cores, in clock ticks.
type SysCPU struct {
	Busy  int64 // user+nice+system+irq+softirq+steal
	Total int64 // Busy + idle + iowait
}

// ParseSysStat parses the aggregate "cpu" line of /proc/stat. guest and guest_nice are already
// included in user and nice, so they are not added again.
func ParseSysStat(b []byte) (SysCPU, error) {
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i]
	}
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return SysCPU{}, fmt.Errorf("procstat: unexpected first line %q", line)
	}
	var v [8]int64
	for i := 1; i < 8 && i < len(f); i++ {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return SysCPU{}, fmt.Errorf("procstat: /proc/stat field %d: %w", i, err)
		}
		v[i-1] = n
	}
	if len(f) > 8 { // steal
		n, err := strconv.ParseInt(f[8], 10, 64)
		if err != nil {
			return SysCPU{}, fmt.Errorf("procstat: /proc/stat steal: %w", err)
		}
		v[7] = n
	}
	user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	busy := user + nice + system + irq + softirq + steal
	return SysCPU{Busy: busy, Total: busy + idle + iowait}, nil
}

// ReadProc reads /proc/PID/stat (pid 0 means this process).
func ReadProc(pid int) (ProcCPU, error) {
	b, err := os.ReadFile(procPath(pid, "stat"))
	if err != nil {
		return ProcCPU{}, err
	}
	return ParseProcStat(b)
}

// ReadMem reads /proc/PID/status (pid 0 means this process).
func ReadMem(pid int) (Mem, error) {
	b, err := os.ReadFile(procPath(pid, "status"))
	if err != nil {
		return Mem{}, err
	}
	return ParseStatus(b)
}

// ReadSys reads /proc/stat.
func ReadSys() (SysCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return SysCPU{}, err
	}
	return ParseSysStat(b)
}

func procPath(pid int, name string) string {
	if pid == 0 {
		return "/proc/self/" + name
	}
	return "/proc/" + strconv.Itoa(pid) + "/" + name
}

// Seconds converts clock ticks to seconds.
func Seconds(ticks int64) float64 { return float64(ticks) / float64(ClockTicks()) }

// Others is the CPU time of every other task on the machine, in clock ticks.
type Others struct {
	User   int64 // user-space processes: utime+stime+cutime+cstime
	Kernel int64 // kernel threads (ksoftirqd, kworker, …): utime+stime
}

// ReadOthers sums the CPU time of every process in /proc but the excluded pids. A user process
// counts its reaped children too (cutime, cstime), so that the difference of two readings keeps
// the time of a process that exited in between: it moves into its parent's cutime.
func ReadOthers(exclude ...int) (Others, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return Others{}, err
	}
	var o Others
next:
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		for _, x := range exclude {
			if pid == x {
				continue next
			}
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		p, err := ParseProcStat(b)
		if err != nil {
			continue
		}
		if p.Kthread() {
			o.Kernel += p.Total()
		} else {
			o.User += p.Total() + p.CUTime + p.CSTime
		}
	}
	return o, nil
}

// Snapshot is one reading of a server process, this process, every other task and the machine.
type Snapshot struct {
	Server  ProcCPU
	Self    ProcCPU
	Others  Others
	Sys     SysCPU
	HaveSrv bool

	ServerSched Sched // the server's context switches (HaveSched)
	ServerIO    IO    // the server's read/write system calls (HaveIO)
	HaveSched   bool
	HaveIO      bool
}

// Take reads all three; serverPID 0 means no server process is known (its figures stay zero).
func Take(serverPID int) (Snapshot, error) {
	var s Snapshot
	var err error
	if serverPID > 0 {
		if s.Server, err = ReadProc(serverPID); err != nil {
			return s, err
		}
		s.HaveSrv = true
		// Best effort: a kernel without task I/O accounting has no /proc/PID/io; the CPU
		// figures do not depend on these.
		if sc, err := ReadSched(serverPID); err == nil {
			s.ServerSched, s.HaveSched = sc, true
		}
		if io, err := ReadIO(serverPID); err == nil {
			s.ServerIO, s.HaveIO = io, true
		}
	}
	if s.Self, err = ReadProc(0); err != nil {
		return s, err
	}
	if s.Others, err = ReadOthers(os.Getpid(), serverPID); err != nil {
		return s, err
	}
	s.Sys, err = ReadSys()
	return s, err
}

// Usage is the CPU used between two snapshots, in seconds.
type Usage struct {
	Server, Self float64
	ServerUser   float64 // the server's user-space share (utime): its own code, not the kernel's
	ServerSys    float64 // the server's kernel share (stime): system calls, TCP, scheduling
	Other        float64 // other user-space processes (what makes a run noisy)
	Kernel       float64 // kernel threads and busy time charged to no process (see Between)
	Busy         float64 // the whole machine
	Capacity     float64 // wall seconds × cores, what Busy is out of

	// The server's context switches and read/write system calls (counts, not seconds); Have*
	// is false when either snapshot lacks them.
	CtxVoluntary, CtxInvoluntary int64
	ReadCalls, WriteCalls        int64
	HaveSched, HaveIO            bool
}

// Between returns the CPU each party used between a and b. Kernel is kernel threads
// (ksoftirqd, kworker) plus the machine's busy time that no process was charged with, mostly
// softirq network processing that ran while a CPU was idle: with tick-based accounting, the
// loopback traffic's kernel cost is split between the sender's stime and this.
func Between(a, b Snapshot) Usage {
	u := Usage{
		Server:     Seconds(b.Server.Total() - a.Server.Total()),
		ServerUser: Seconds(b.Server.UTime - a.Server.UTime),
		ServerSys:  Seconds(b.Server.STime - a.Server.STime),
		Self:       Seconds(b.Self.Total() - a.Self.Total()),
		Other:      Seconds(b.Others.User - a.Others.User),
		Busy:       Seconds(b.Sys.Busy - a.Sys.Busy),
	}
	u.Capacity = Seconds(b.Sys.Total - a.Sys.Total)
	if a.HaveSched && b.HaveSched {
		u.HaveSched = true
		u.CtxVoluntary = max(0, b.ServerSched.Voluntary-a.ServerSched.Voluntary)
		u.CtxInvoluntary = max(0, b.ServerSched.Involuntary-a.ServerSched.Involuntary)
	}
	if a.HaveIO && b.HaveIO {
		u.HaveIO = true
		u.ReadCalls = b.ServerIO.ReadCalls - a.ServerIO.ReadCalls
		u.WriteCalls = b.ServerIO.WriteCalls - a.ServerIO.WriteCalls
	}
	if u.Other < 0 { // a process exited unreaped by anyone we count: its time is lost
		u.Other = 0
	}
	u.Kernel = u.Busy - u.Server - u.Self - u.Other
	if u.Kernel < 0 { // the sources tick independently; clamp rounding noise
		u.Kernel = 0
	}
	return u
}
