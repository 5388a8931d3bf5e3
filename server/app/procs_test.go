package app

import (
	"context"
	"io"
	"runtime"
	"strings"
	"testing"
)

// --gomaxprocs: a number fixes GOMAXPROCS, "auto" runs the policy (one P to start with on this
// machine), anything else is refused before the server starts.
func TestGomaxprocsFlag(t *testing.T) {
	if n := runtime.NumCPU(); n < 2 {
		t.Fatalf("this test needs 2 cores, the machine has %d", n)
	}
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	t.Setenv("GOMAXPROCS", "") // an operator's GOMAXPROCS would switch the flag off
	for _, bad := range []string{"0", "-1", "many"} {
		err := Run(context.Background(), []string{"--gomaxprocs", bad, "--listen", "127.0.0.1:0", "--admin", ""}, Options{Stderr: io.Discard})
		if err == nil || !strings.Contains(err.Error(), "--gomaxprocs") {
			t.Fatalf("--gomaxprocs %s: %v", bad, err)
		}
	}
	_, stop := start(t, []string{"--gomaxprocs", "2", "--listen", "127.0.0.1:0", "--admin", ""})
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("--gomaxprocs 2 left GOMAXPROCS at %d", got)
	}
	stop()
	_, stop = start(t, []string{"--gomaxprocs", "auto", "--listen", "127.0.0.1:0", "--admin", ""})
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("--gomaxprocs auto started with GOMAXPROCS %d", got)
	}
	stop()
}
