package fakeinubit

// RefuseEntry makes every clear call whose body names id answer status
// (a 4xx such as 400 or 404) with the profile's error body, as INUBIT
// might for an entry it cannot clear; calls without it are judged as
// usual. Status 0 lifts the refusal.
func (s *Server) RefuseEntry(id string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.refusedIDs, id)
		return
	}
	s.refusedIDs[id] = status
}

// refusalLocked returns the status for a call naming ids, or 0 if none
// of them is refused; the caller holds s.mu.
func (s *Server) refusalLocked(ids []string) int {
	for _, id := range ids {
		if status, ok := s.refusedIDs[id]; ok {
			return status
		}
	}
	return 0
}
