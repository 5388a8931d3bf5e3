package game

import "testing"

// BenchmarkInboxPush is one tick of a 10-player match's inbox: each member pushes one input,
// then the match drains it.
func BenchmarkInboxPush(b *testing.B) {
	q := newInbox(inboxLimits{maxMsgs: 1000, maxBytes: 1 << 20, maxPer: 8, perBytes: 4096, maxReqs: 10, perSource: 2})
	payload := []byte{0x92, 0x01, 0x00}
	b.ReportAllocs()
	for b.Loop() {
		for pid := uint32(1); pid <= 10; pid++ {
			q.push(inMsg{kind: mInput, pid: pid}, payload, nil, "")
		}
		q.recycle(q.drain())
	}
}
