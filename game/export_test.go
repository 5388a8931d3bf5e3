package game

// ViewForTest is what pid may see of the state.
func ViewForTest(s *State, pid uint32) (map[uint32]map[uint32]string, map[uint32]map[uint32]string) {
	return s.view(pid)
}
