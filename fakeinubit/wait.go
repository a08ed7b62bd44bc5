package fakeinubit

import (
	"context"
	"fmt"
)

// Changed returns a channel that is closed at the next change of the
// fake's state: any recorded request, a maintenance switch or a Reset.
// Take the channel before checking a condition, then wait on it, so that
// no change slips between the check and the wait.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// WaitFor blocks until cond returns true or ctx ends. cond runs without
// the server's lock held, so it may call any inspection method; it is
// checked once at the start and again after every change.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		ch := s.Changed()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for fake INUBIT: %w", ctx.Err())
		}
	}
}

// WaitForClear blocks until pred accepts the clear calls recorded so far
// or ctx ends. pred gets a copy of the calls, oldest first. A call is
// recorded just before its answer is written, so when this returns the
// client may not have read the answer yet.
func (s *Server) WaitForClear(ctx context.Context, pred func([]ClearCall) bool) error {
	return s.WaitFor(ctx, func() bool { return pred(s.Calls()) })
}

// WaitForClearCount blocks until at least n clear calls have arrived or
// ctx ends.
func (s *Server) WaitForClearCount(ctx context.Context, n int) error {
	return s.WaitFor(ctx, func() bool { return s.ClearCallCount() >= n })
}
