package loadgen

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/bench/internal/procstat"
	"github.com/tickrelay/tickrelay/bench/internal/result"
)

func TestParsePerfStat(t *testing.T) {
	out := []byte("# started on x\n\n123456,,raw_syscalls:sys_enter,20001234567,100.00,,\n" +
		"40000,,syscalls:sys_enter_write,20001234567,100.00,,\n<not counted>,,syscalls:sys_enter_futex,0,100.00,,\n")
	sc, err := parsePerfStat(out)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Total != 123456 || sc.ByName["write"] != 40000 || sc.ByName["futex"] != 0 || len(sc.ByName) != 2 {
		t.Fatalf("got %+v", sc)
	}
	if _, err := parsePerfStat([]byte("<not supported>,,raw_syscalls:sys_enter,0,100.00,,\n")); err == nil {
		t.Fatal("unsupported event accepted")
	}
	if _, err := parsePerfStat([]byte("perf: no permission\n")); err == nil || !strings.Contains(err.Error(), "no syscall count") {
		t.Fatalf("perf's complaint: %v", err)
	}
}

// The -syscalls mode for real: perf (Debian's linux-perf, on the machine image) counts this test
// process's own write(2) calls in the kernel.
func TestSyscallCounterCountsWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := startSyscalls(ctx, os.Getpid(), 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(t.TempDir(), "w")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// perf attaches a moment after it starts: write for the whole window.
	deadline := time.Now().Add(1200 * time.Millisecond)
	writes := 0
	for time.Now().Before(deadline) {
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		writes++
		if writes%100 == 0 {
			time.Sleep(time.Millisecond) // not a busy loop: perf needs the other core too
		}
	}
	sc := c.finish(10 * time.Second)
	if sc.Err != "" {
		t.Fatal(sc.Err)
	}
	if sc.ByName["write"] < 1000 || sc.Total < sc.ByName["write"] {
		t.Fatalf("%d writes made, perf counted %+v", writes, sc)
	}
	var s result.Server
	s.Syscalls = sc
	fillSched(&s, procstat.Usage{ServerSys: 0.5, HaveSched: true, CtxVoluntary: 30, CtxInvoluntary: 10, HaveIO: true, ReadCalls: 5, WriteCalls: 15}, 2, 10)
	if s.CtxPerSec != 20 || s.CtxPerMsg != 4 || s.ReadCallsPerMsg != 0.5 || s.WriteCallsPerMsg != 1.5 || s.SysSeconds != 0.5 ||
		sc.PerSec != round(float64(sc.Total)/2, 1) || sc.PerMsg != round(float64(sc.Total)/10, 4) {
		t.Fatalf("fillSched: %+v %+v", s, sc)
	}
}
