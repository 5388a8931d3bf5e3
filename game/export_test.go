package game

// QueuedForTest is the number of messages waiting in m's inbox.
func QueuedForTest(m *Match) int { return m.in.depth() }

// ViewForTest is what pid may see of the state.
func ViewForTest(s *State, pid uint32) (map[uint32]map[uint32]string, map[uint32]map[uint32]string) {
	return s.view(pid)
}
