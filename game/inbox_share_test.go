package game

import "testing"

// Each member's share of the inbox is its own, for small pids (kept in a slice) and large ones
// (a match with churn: kept in a map) alike, and every share starts again after a drain.
func TestInboxSharePerPID(t *testing.T) {
	q := newInbox(inboxLimits{maxMsgs: 1000, maxBytes: 1 << 20, maxPer: 2, perBytes: 1 << 20, maxReqs: 10, perSource: 2})
	pids := []uint32{1, 2, densePIDs - 1, densePIDs, densePIDs + 1, 1 << 31}
	for round := range 2 {
		for _, pid := range pids {
			for i := range 3 {
				r := q.push(inMsg{kind: mInput, pid: pid, a: uint32(i)}, []byte{0x90}, nil, "")
				if want := pushQueued; i == 2 {
					if r != pushFull {
						t.Fatalf("round %d pid %d: input %d over the share of 2: %v", round, pid, i, r)
					}
				} else if r != want {
					t.Fatalf("round %d pid %d: input %d: %v", round, pid, i, r)
				}
			}
		}
		msgs, bytes, to := q.drain()
		if len(msgs) != 2*len(pids) {
			t.Fatalf("round %d: %d queued, want %d", round, len(msgs), 2*len(pids))
		}
		q.recycle(msgs, bytes, to)
	}
	if len(q.dense) != densePIDs || len(q.perPID) != 0 {
		t.Fatalf("after a drain: dense %d entries, map %d (want every share cleared)", len(q.dense), len(q.perPID))
	}
}
