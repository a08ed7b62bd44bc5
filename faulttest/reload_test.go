package faulttest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReloadsWhileClearPending: five config reloads in a row, each
// changing a harmless setting, while one user's clear waits behind
// INUBIT maintenance and another user's session is live and keeps
// collecting. After maintenance, each user's IDs arrive in exactly one
// accepted call; the reloads send no clear call into the maintenance.
func TestReloadsWhileClearPending(t *testing.T) {
	st := startStack(t)
	st.fake.SetMaintenance(true)

	anna := st.browser(t, "anna")
	annaIDs := anna.mustPlaySession(t, 2)
	st.mustFirstCall(t, http.StatusServiceUnavailable)

	ben := st.browser(t, "ben")
	ben.mustLogin(t)
	benIDs := ben.mustOpen(t, 1)

	healthBefore := st.fake.HealthcheckCount()
	started := time.Now()
	retries := 0
	for i := range 5 {
		st.caddy.change(func(s *site) { s.extra = fmt.Sprintf("timeout %ds", 31+i) })
		require.NoError(t, st.caddy.reload(false), "reload %d", i+1)
		// A request sent on a keep-alive connection that the old
		// server closes gets EOF; a browser retries it.
		failed, err := retry(3, 50*time.Millisecond, time.Now().Add(5*time.Second), func() error {
			id, err := ben.openForm(i)
			if err == nil {
				benIDs = append(benIDs, id)
			}
			return err
		})
		require.NoError(t, err, "ben opens a form after reload %d", i+1)
		retries += failed
	}
	figure(t, "reload_five_reloads", time.Since(started))
	figure(t, "reload_browser_retries", retries)
	time.Sleep(flushSettle)
	during := st.fake.Calls()
	figure(t, "reload_clear_calls_in_maintenance", len(during))
	figure(t, "reload_healthchecks_during_reloads", st.fake.HealthcheckCount()-healthBefore)
	assert.Len(t, during, 1, "no clear call while INUBIT is in maintenance: %s",
		describeCalls(during))

	off := time.Now()
	st.fake.SetMaintenance(false)
	at := requireCleared(t, st.fake, "anna", annaIDs, 10*time.Second)
	figure(t, "reload_maintenance_off_to_clear", at.Sub(off))

	ben.mustLogout(t)
	requireCleared(t, st.fake, "ben", benIDs, 10*time.Second)
	time.Sleep(1500 * time.Millisecond) // past a probe and a backoff: room for repeats

	calls := st.fake.Calls()
	for user, ids := range map[string][]string{"anna": annaIDs, "ben": benIDs} {
		accepted := acceptedFor(calls, user)
		if assert.Len(t, accepted, 1, "%s: one accepted call; %s", user, describeCalls(calls)) {
			assert.ElementsMatch(t, ids, accepted[0].IDs, user)
		}
	}
	assert.Equal(t, 1, countStatus(calls, http.StatusServiceUnavailable), describeCalls(calls))
	assert.Len(t, calls, 3, describeCalls(calls))
}
