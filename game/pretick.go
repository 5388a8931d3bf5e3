package game

// PreTicker is an optional interface of a member's Sink. A member's sink that implements it is
// called on the match goroutine at the start of every tick, before the inbox is drained, so
// whatever it queues then through the match's own methods (Input, Message, …) is applied in
// this very tick. The server uses it to read its members' sockets itself just before the tick
// (inputs are applied at the tick anyway, so reading them earlier buys nothing and costs a
// thread wake-up per input).
//
// PreTick must not block, must not wait on the match (its goroutine is the caller), and may
// only push to the match without waiting (Input, Message, Leave, Sync). A match that does not
// tick (asleep, frozen by a hand-off, held) does not call it.
type PreTicker interface {
	PreTick(m *Match)
}

// preTick calls PreTick on every connected member's sink that implements PreTicker.
func (m *Match) preTick() {
	for _, mem := range m.order {
		if p, ok := mem.sink.(PreTicker); ok {
			p.PreTick(m)
		}
	}
}
