package hq

// Patterns returns the patterns s's handler serves, as registered with
// its mux, so a test can send something to every route.
func (s *Server) Patterns() ([]string, error) {
	mux, err := s.newMux()
	if err != nil {
		return nil, err
	}
	return mux.patterns, nil
}
