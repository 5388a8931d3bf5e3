package game

import "time"

// An empty match sleeps. Ticking 1,000 matches nobody is in cost 11-19% of a core (20,000
// wake-ups a second for nothing); a sleeping match costs no CPU until something happens: a
// request on its inbox (a join, a reservation, a watch, a publish), a ctl function (Inspect,
// Stop), or the next deadline it knows (a reservation expiring, the empty timeout ending it).
// Only tickers that can pause sleep (RealClock's): under ManualClock a match ticks as always.

// canSleep reports whether the match has nothing to do until a request or a deadline: nobody in
// it (no member, connected or dropped; no spectator), nothing pending, nothing unsent.
func (m *Match) canSleep() bool {
	return !m.opts.TickWhenEmpty && !m.ending && len(m.order) == 0 && len(m.spectators) == 0 &&
		len(m.newWatchers) == 0 && len(m.syncs) == 0 && !m.infoDirty && m.nEvents == 0 && !m.state.hasChanges()
}

// wakeAt is the next deadline of a sleeping match: the earliest reservation expiry, else the
// moment the empty timeout ends it (zero: none).
func (m *Match) wakeAt() time.Time {
	var at time.Time
	for _, exp := range m.reserved {
		if at.IsZero() || exp.Before(at) {
			at = exp
		}
	}
	if !at.IsZero() {
		return at
	}
	if t := m.emptyTimeout(); t > 0 && !m.emptySince.IsZero() {
		return m.emptySince.Add(t)
	}
	return at
}

// sleep pauses the ticker and waits for a push on the inbox, a ctl function or the next
// deadline. It reports whether the caller should tick now (false when it did not sleep
// because something had just been queued: the ticker is still running).
func (m *Match) sleep(p pausable) bool {
	select {
	case <-m.in.wake: // a signal from before: stale
	default:
	}
	m.in.sleeping.Store(true)
	if m.in.depth() > 0 { // queued before sleeping was set: its push saw no sleeper
		m.in.sleeping.Store(false)
		return false
	}
	p.Pause()
	if m.emptySince.IsZero() && len(m.reserved) == 0 {
		// Empty from its start (created with no reservation, e.g. by the backend) and asleep
		// before a tick could note it: without this the empty timeout had no start and the
		// match slept forever.
		m.emptySince = m.clock.Now()
	}
	var deadline <-chan time.Time
	if at := m.wakeAt(); !at.IsZero() {
		t := time.NewTimer(at.Sub(m.clock.Now()))
		defer t.Stop()
		deadline = t.C
	}
	m.sleeps.Add(1)
	select {
	case <-m.in.wake:
	case <-deadline:
	case fn := <-m.ctl:
		m.runCtl(fn)
	}
	m.in.sleeping.Store(false)
	p.Resume()
	return true
}
