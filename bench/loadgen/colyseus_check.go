package loadgen

import (
	"fmt"
	"math"
	"strings"

	"github.com/tickrelay/tickrelay/bench/internal/result"
)

// CheckColyseus is the -check mode: the harness's own invariants on one Colyseus run, so that a
// short run (2 rooms × 10 clients, a few seconds) shows it counts what it should:
//   - every input sent in the window was acked exactly once (one latency sample each, none left
//     unacked), and no ack went backwards or acked an input never sent (the Node side counts
//     those as "check: …" errors);
//   - without -probe, the inputs counted in the window are the messages the clients sent in it;
//   - the server received (colyseus_inputs_received_total on its /metrics) what the clients sent
//     in the window, within the inputs in flight at its two ends, and dropped none;
//   - each client sent and received 1000 ms / interval messages a second (±5%): one input and one
//     state patch per tick;
//   - no drops, failed joins or short rooms.
func CheckColyseus(res *result.Result, marks [2]colyseusMark, metA, metB []byte) *result.Check {
	c := &result.Check{Pass: true}
	item := func(ok bool, format string, args ...any) {
		if ok {
			c.Items = append(c.Items, "ok: "+fmt.Sprintf(format, args...))
		} else {
			c.Pass = false
			c.Items = append(c.Items, "FAIL: "+fmt.Sprintf(format, args...))
		}
	}
	n := int64(0)
	if res.Latency != nil {
		n = int64(res.Latency.Count)
	}
	item(res.InputsInWindow > 0 && n == res.InputsInWindow && res.Unacked == 0,
		"every input of the window acked once: %d inputs, %d latency samples, %d unacked", res.InputsInWindow, n, res.Unacked)
	bad := 0
	for k, v := range res.Failures.Errors {
		if strings.HasPrefix(k, "check: ") {
			bad += v
		}
	}
	item(bad == 0, "acks monotonic and only of inputs sent: %d violations", bad)
	sent := marks[1].MsgsOut - marks[0].MsgsOut
	if !res.Params.Probe {
		item(sent == res.InputsInWindow, "inputs in the window = messages the clients sent in it: %d and %d", res.InputsInWindow, sent)
	}
	ra, okA := Gauge(metA, "colyseus_inputs_received_total")
	rb, okB := Gauge(metB, "colyseus_inputs_received_total")
	da, _ := Gauge(metA, "colyseus_inputs_dropped_total")
	db, _ := Gauge(metB, "colyseus_inputs_dropped_total")
	if !okA || !okB {
		item(false, "the server's input counters on /metrics: not readable")
	} else {
		got := int64(rb - ra)
		slack := max(int64(res.Clients), sent/100) // /metrics is read right after each mark: inputs in flight
		item(abs64(got-sent) <= slack, "the server received what the clients sent: %d against %d (±%d)", got, sent, slack)
		item(db-da == 0, "the server dropped no input: %.0f", db-da)
	}
	if res.Clients > 0 && res.Params.InputHz > 0 {
		want := res.Params.InputHz
		in := res.Traffic.MsgsInPerSec / float64(res.Clients)
		out := res.Traffic.MsgsOutPerSec / float64(res.Clients)
		why := ""
		if in < 0.95*want {
			why = "; fewer: the server's setInterval fell behind (a starved machine)"
		}
		item(math.Abs(in-want) <= 0.05*want, "state patches per client-second %.2f (want %.0f ±5%%%s)", in, want, why)
		item(math.Abs(out-want) <= 0.05*want, "inputs per client-second %.2f (want %.0f ±5%%)", out, want)
	}
	f := res.Failures
	item(f.Dropped == 0 && f.FailedSetup == 0 && f.FailedJoins == 0 && f.JoinCheckFailed == 0,
		"no drops, failed setups or joins, short rooms: %d, %d, %d, %d", f.Dropped, f.FailedSetup, f.FailedJoins, f.JoinCheckFailed)
	return c
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
