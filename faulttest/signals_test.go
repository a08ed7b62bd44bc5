package faulttest

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSIGTERMWithINUBITDown: a clear is pending while INUBIT is down,
// refusing connections or accepting them and never answering. SIGTERM
// stops Caddy within seconds, and a Caddy started again on the same
// storage with INUBIT back delivers the pending clear and still knows
// the live session.
func TestSIGTERMWithINUBITDown(t *testing.T) {
	cases := []struct {
		name string
		// down takes INUBIT down, logs b out and waits for the failed call
		down func(t *testing.T, st *stack, b *browser)
		up   func(t *testing.T, st *stack)
	}{
		{
			name: "refused",
			down: func(t *testing.T, st *stack, b *browser) {
				st.inubit.down()
				b.mustLogout(t)
				require.NoError(t, st.caddy.waitLog("clear call failed: INUBIT unreachable", 5*time.Second))
			},
			up: func(t *testing.T, st *stack) { st.inubit.up(t) },
		},
		{
			name: "hanging",
			down: func(t *testing.T, st *stack, b *browser) {
				st.inubit.hang.Store(true)
				b.mustLogout(t)
				hung := func() bool { return st.inubit.hung.Load() > 0 }
				require.NoError(t, waitTrue(5*time.Second, hung),
					"the clear call reaches the hanging INUBIT")
			},
			up: func(t *testing.T, st *stack) { st.inubit.hang.Store(false) },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := startStack(t)
			anna, ben := st.browser(t, "anna"), st.browser(t, "ben")
			anna.mustLogin(t)
			ben.mustLogin(t)
			annaIDs := anna.mustOpen(t, 2)
			benIDs := ben.mustOpen(t, 2)
			time.Sleep(flushSettle)

			tc.down(t, st, anna)
			took, err := st.caddy.signal(syscall.SIGTERM, 15*time.Second)
			require.NoError(t, err)
			figure(t, fmt.Sprintf("sigterm_%s_stop", tc.name), took)
			assert.Less(t, took, 5*time.Second, "SIGTERM stops Caddy promptly with INUBIT down")

			tc.up(t, st)
			restarted := time.Now()
			st.caddy.mustStart(t)
			at := requireCleared(t, st.fake, "anna", annaIDs, 10*time.Second)
			figure(t, fmt.Sprintf("sigterm_%s_restart_to_clear", tc.name), at.Sub(restarted))

			ben.mustLogout(t)
			requireCleared(t, st.fake, "ben", benIDs, 10*time.Second)
			time.Sleep(500 * time.Millisecond) // room for a stray repeat
			calls := st.fake.Calls()
			for user, ids := range map[string][]string{"anna": annaIDs, "ben": benIDs} {
				accepted := acceptedFor(calls, user)
				if assert.Len(t, accepted, 1, "%s: %s", user, describeCalls(calls)) {
					assert.ElementsMatch(t, ids, accepted[0].IDs, user)
				}
			}
		})
	}
}

// TestSIGKILL: what the handler keeps on disk survives kill -9: a live
// session's IDs (older than the 100 ms flush) and an ended session's
// clear that INUBIT has not yet accepted.
func TestSIGKILL(t *testing.T) {
	t.Run("live session", func(t *testing.T) {
		st := startStack(t)
		anna := st.browser(t, "anna")
		anna.mustLogin(t)
		ids := anna.mustOpen(t, 2)
		time.Sleep(flushSettle)

		st.kill9(t)
		anna.mustLogout(t) // the same cookie jar, after the restart
		requireCleared(t, st.fake, "anna", ids, 10*time.Second)
		time.Sleep(500 * time.Millisecond)
		accepted := acceptedFor(st.fake.Calls(), "anna")
		require.Len(t, accepted, 1, describeCalls(st.fake.Calls()))
		assert.ElementsMatch(t, ids, accepted[0].IDs)
	})

	t.Run("pending clear", func(t *testing.T) {
		st := startStack(t)
		st.fake.SetMaintenance(true)
		anna := st.browser(t, "anna")
		ids := anna.mustPlaySession(t, 2)
		st.mustFirstCall(t, http.StatusServiceUnavailable)

		st.fake.SetMaintenance(false)
		restarted := st.kill9(t)
		at := requireCleared(t, st.fake, "anna", ids, 10*time.Second)
		figure(t, "sigkill_restart_to_pending_clear", at.Sub(restarted))
		time.Sleep(500 * time.Millisecond)
		accepted := acceptedFor(st.fake.Calls(), "anna")
		require.Len(t, accepted, 1, describeCalls(st.fake.Calls()))
		assert.ElementsMatch(t, ids, accepted[0].IDs)
	})
}

// kill9 kills Caddy with SIGKILL and starts it again; it returns when
// the new process was started.
func (st *stack) kill9(t *testing.T) time.Time {
	t.Helper()
	_, err := st.caddy.signal(syscall.SIGKILL, 5*time.Second)
	require.NoError(t, err)
	restarted := time.Now()
	st.caddy.mustStart(t)
	figure(t, "sigkill_restart_ready", time.Since(restarted))
	return restarted
}

// waitTrue polls cond every 10 ms for up to timeout.
func waitTrue(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("condition not met within %s", timeout)
}
