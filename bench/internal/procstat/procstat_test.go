package procstat

import (
	"os"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// comm with spaces and a ')' in it; utime=1234 stime=567 threads=9
	b := []byte("4242 (weird ) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 9 0 123 456789 12 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")
	p, err := ParseProcStat(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.UTime != 1234 || p.STime != 567 || p.CUTime != 0 || p.Threads != 9 || p.Total() != 1801 || p.Kthread() {
		t.Fatalf("got %+v", p)
	}
	k, err := ParseProcStat([]byte("14 (ksoftirqd/0) S 2 0 0 0 -1 69238848 0 0 0 0 14 29 5 6 20 0 1 0 12 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0\n"))
	if err != nil || !k.Kthread() || k.Total() != 43 || k.CUTime != 5 || k.CSTime != 6 {
		t.Fatalf("kthread %+v %v", k, err)
	}
	if _, err := ParseProcStat([]byte("12 (x) S 1 2 3")); err == nil {
		t.Fatal("short stat accepted")
	}
	if _, err := ParseProcStat([]byte("no parens")); err == nil {
		t.Fatal("stat without comm accepted")
	}
}

func TestParseStatus(t *testing.T) {
	b := []byte("Name:\tfloor\nVmPeak:\t  800000 kB\nVmHWM:\t   52000 kB\nVmRSS:\t   48128 kB\nThreads:\t5\n")
	m, err := ParseStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSSKB != 48128 || m.HWMKB != 52000 {
		t.Fatalf("got %+v", m)
	}
	if _, err := ParseStatus([]byte("Name:\tx\nVmRSS:\t1 kB\n")); err == nil {
		t.Fatal("status without VmHWM accepted")
	}
}

func TestParseSysStat(t *testing.T) {
	b := []byte("cpu  4406 10 2531 192555 352 5 53 67 0 0\ncpu0 1841 0 1113 96874 98 0 9 30 0 0\n")
	s, err := ParseSysStat(b)
	if err != nil {
		t.Fatal(err)
	}
	busy := int64(4406 + 10 + 2531 + 5 + 53 + 67)
	if s.Busy != busy || s.Total != busy+192555+352 {
		t.Fatalf("got %+v", s)
	}
	if _, err := ParseSysStat([]byte("intr 1 2 3\n")); err == nil {
		t.Fatal("non-cpu first line accepted")
	}
}

func TestBetween(t *testing.T) {
	tck := ClockTicks()
	a := Snapshot{Server: ProcCPU{UTime: 100, STime: 50}, Self: ProcCPU{UTime: 10}, Others: Others{User: 70, Kernel: 9}, Sys: SysCPU{Busy: 1000, Total: 5000}}
	b := Snapshot{Server: ProcCPU{UTime: 100 + tck, STime: 50 + tck}, Self: ProcCPU{UTime: 10 + tck/2}, Others: Others{User: 70 + tck/4, Kernel: 9},
		Sys: SysCPU{Busy: 1000 + 3*tck, Total: 5000 + 4*tck}}
	u := Between(a, b)
	if u.Server != 2 || u.Self != 0.5 || u.Busy != 3 || u.Other != 0.25 || u.Kernel != 0.25 || u.Capacity != 4 {
		t.Fatalf("got %+v", u)
	}
}

func TestLiveSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := ReadProc(0); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMem(0)
	if err != nil || m.RSSKB <= 0 {
		t.Fatalf("mem %+v %v", m, err)
	}
	if _, err := Take(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if ClockTicks() <= 0 {
		t.Fatal("clock ticks")
	}
}

func TestParseCtxSwitches(t *testing.T) {
	b := []byte("Name:\tx\nThreads:\t1\nvoluntary_ctxt_switches:\t1234\nnonvoluntary_ctxt_switches:\t56\n")
	v, i, err := ParseCtxSwitches(b)
	if err != nil || v != 1234 || i != 56 {
		t.Fatalf("got %d %d %v", v, i, err)
	}
	if _, _, err := ParseCtxSwitches([]byte("voluntary_ctxt_switches:\t1\n")); err == nil {
		t.Fatal("status without nonvoluntary_ctxt_switches accepted")
	}
	if _, _, err := ParseCtxSwitches([]byte("voluntary_ctxt_switches:\tx\nnonvoluntary_ctxt_switches:\t1\n")); err == nil {
		t.Fatal("bad number accepted")
	}
}

func TestParseIO(t *testing.T) {
	b := []byte("rchar: 6976\nwchar: 0\nsyscr: 10\nsyscw: 3\nread_bytes: 0\n")
	io, err := ParseIO(b)
	if err != nil || io.ReadCalls != 10 || io.WriteCalls != 3 {
		t.Fatalf("got %+v %v", io, err)
	}
	if _, err := ParseIO([]byte("rchar: 1\n")); err == nil {
		t.Fatal("io without syscr accepted")
	}
}

// The real /proc: this process's threads are summed (a Go test binary has several), and a
// thread that sleeps on a channel makes voluntary switches that the next reading counts.
func TestReadSchedAndIO(t *testing.T) {
	a, err := ReadSched(0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Tasks < 2 {
		t.Fatalf("read %d threads of a Go process", a.Tasks)
	}
	done := make(chan struct{})
	for range 50 {
		go func() { done <- struct{}{} }()
		<-done
	}
	f, err := os.CreateTemp(t.TempDir(), "w")
	if err != nil {
		t.Fatal(err)
	}
	ioA, err := ReadIO(0)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	ioB, err := ReadIO(0)
	if err != nil {
		t.Fatal(err)
	}
	if d := ioB.WriteCalls - ioA.WriteCalls; d < 5 {
		t.Fatalf("5 writes counted as %d", d)
	}
	b, err := ReadSched(0)
	if err != nil {
		t.Fatal(err)
	}
	if b.Total() < a.Total() {
		t.Fatalf("switches went backwards: %+v then %+v", a, b)
	}
	snapA := Snapshot{HaveSched: true, ServerSched: a, HaveIO: true, ServerIO: ioA}
	snapB := Snapshot{HaveSched: true, ServerSched: b, HaveIO: true, ServerIO: ioB}
	u := Between(snapA, snapB)
	if !u.HaveSched || !u.HaveIO || u.WriteCalls < 5 || u.CtxVoluntary != b.Voluntary-a.Voluntary {
		t.Fatalf("Between: %+v", u)
	}
	if u := Between(Snapshot{}, snapB); u.HaveSched || u.HaveIO {
		t.Fatalf("a snapshot without them gave %+v", u)
	}
}
