package loadgen

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tickrelay/tickrelay/bench/internal/hist"
	"github.com/tickrelay/tickrelay/bench/internal/procstat"
	"github.com/tickrelay/tickrelay/bench/internal/result"
)

// The Node load generator's CPU is the load generator's, not "other processes'".
func TestChargeLoadgenMovesNodeCPUToSelf(t *testing.T) {
	a := procstat.Snapshot{Self: procstat.ProcCPU{UTime: 10}, Others: procstat.Others{User: 1000}}
	b := procstat.Snapshot{Self: procstat.ProcCPU{UTime: 20}, Others: procstat.Others{User: 1700}}
	chargeLoadgen(&a, procstat.ProcCPU{UTime: 300, STime: 100})
	chargeLoadgen(&b, procstat.ProcCPU{UTime: 700, STime: 200}) // the node process: +500 ticks
	u := procstat.Between(a, b)
	if want := procstat.Seconds(10 + 500); u.Self != want {
		t.Errorf("load generator CPU %v s, want %v (this process + node)", u.Self, want)
	}
	if want := procstat.Seconds(700 - 500); u.Other != want {
		t.Errorf("other processes %v s, want %v (without node)", u.Other, want)
	}
}

// Events are decoded by kind: "errors" is in both setup and final (an embedded struct of both
// would make encoding/json drop the ambiguous field).
func TestColyseusEventsDecodeByKind(t *testing.T) {
	ch := make(chan colyseusEvent, 2)
	c := &colyseusClients{events: ch}
	for _, line := range []string{
		`{"ev":"setup","clients":20,"joined":19,"failed_joins":1,"errors":{"joinById: x":1},"versions":{"colyseus.js":"0.16.22"}}`,
		`{"ev":"final","inputs_in_window":3,"unacked":1,"dropped":2,"errors":{"check: ack went backwards":4},"lat_ns":[1,2,3]}`,
	} {
		var ev colyseusEvent
		ev.raw = json.RawMessage(line)
		if err := json.Unmarshal(ev.raw, &ev); err != nil {
			t.Fatal(err)
		}
		ch <- ev
	}
	var s colyseusSetup
	if err := c.next("setup", time.Second, &s); err != nil {
		t.Fatal(err)
	}
	if s.Joined != 19 || s.FailedJoins != 1 || s.Errors["joinById: x"] != 1 || s.Versions["colyseus.js"] != "0.16.22" {
		t.Errorf("setup decoded as %+v", s)
	}
	var f colyseusFinal
	if err := c.next("final", time.Second, &f); err != nil {
		t.Fatal(err)
	}
	if f.InputsInWindow != 3 || f.Unacked != 1 || f.Dropped != 2 || f.Errors["check: ack went backwards"] != 4 || len(f.LatNS) != 3 {
		t.Errorf("final decoded as %+v", f)
	}
}

func checkFixture() (*result.Result, [2]colyseusMark, []byte, []byte) {
	res := &result.Result{Clients: 20, InputsInWindow: 1200, Latency: &hist.Summary{Count: 1200}}
	res.Params.InputHz = 20
	res.Traffic.MsgsInPerSec, res.Traffic.MsgsOutPerSec = 400, 400
	marks := [2]colyseusMark{{MsgsOut: 100}, {MsgsOut: 1300}}
	metA := []byte("colyseus_inputs_received_total 90\ncolyseus_inputs_dropped_total 0\n")
	metB := []byte("colyseus_inputs_received_total 1292\ncolyseus_inputs_dropped_total 0\n")
	return res, marks, metA, metB
}

func TestCheckColyseusPassesAConsistentRun(t *testing.T) {
	res, marks, a, b := checkFixture()
	if c := CheckColyseus(res, marks, a, b); !c.Pass {
		t.Errorf("a consistent run failed the check:\n%s", strings.Join(c.Items, "\n"))
	}
}

// Each invariant can fail.
func TestCheckColyseusFailsEachInvariant(t *testing.T) {
	for name, spoil := range map[string]func(r *result.Result, m *[2]colyseusMark, a, b *[]byte){
		"unacked":         func(r *result.Result, _ *[2]colyseusMark, _, _ *[]byte) { r.Unacked = 1 },
		"fewer latencies": func(r *result.Result, _ *[2]colyseusMark, _, _ *[]byte) { r.Latency.Count = 1199 },
		"ack backwards": func(r *result.Result, _ *[2]colyseusMark, _, _ *[]byte) {
			r.Failures.Errors = map[string]int{"check: ack went backwards": 1}
		},
		"sent != window": func(_ *result.Result, m *[2]colyseusMark, _, _ *[]byte) { m[1].MsgsOut = 1400 },
		"server received": func(_ *result.Result, _ *[2]colyseusMark, _, b *[]byte) {
			*b = []byte("colyseus_inputs_received_total 1000\n")
		},
		"no server counts": func(_ *result.Result, _ *[2]colyseusMark, a, _ *[]byte) { *a = nil },
		"server dropped": func(_ *result.Result, _ *[2]colyseusMark, _, b *[]byte) {
			*b = append(*b, "colyseus_inputs_dropped_total 3\n"...)
		},
		"few patches":    func(r *result.Result, _ *[2]colyseusMark, _, _ *[]byte) { r.Traffic.MsgsInPerSec = 300 },
		"few inputs":     func(r *result.Result, _ *[2]colyseusMark, _, _ *[]byte) { r.Traffic.MsgsOutPerSec = 300 },
		"dropped client": func(r *result.Result, _ *[2]colyseusMark, _, _ *[]byte) { r.Failures.Dropped = 1 },
	} {
		res, marks, a, b := checkFixture()
		spoil(res, &marks, &a, &b)
		if c := CheckColyseus(res, marks, a, b); c.Pass {
			t.Errorf("%s: the check passed:\n%s", name, strings.Join(c.Items, "\n"))
		}
	}
}
