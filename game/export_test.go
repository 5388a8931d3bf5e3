package game

// QueuedForTest is the number of messages waiting in m's inbox.
func QueuedForTest(m *Match) int { return m.in.depth() }
