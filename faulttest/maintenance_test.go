package faulttest

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flushSettle is long enough for the handler's 100 ms flush of collected
// IDs to have happened twice.
const flushSettle = 250 * time.Millisecond

// TestMaintenance: a user logs out while INUBIT is in maintenance. Only
// the discovering clear call and health checks every maintenance_probe
// (1s) may reach INUBIT until maintenance ends; then the clear follows
// within a few seconds.
func TestMaintenance(t *testing.T) {
	st := startStack(t)
	st.fake.SetMaintenance(true)

	anna := st.browser(t, "anna")
	ids := anna.mustPlaySession(t, 2)

	first := st.mustFirstCall(t, http.StatusServiceUnavailable)

	// keep maintenance on for five seconds from the first refusal
	time.Sleep(time.Until(first.Time.Add(5 * time.Second)))
	healthBefore := st.fake.HealthcheckCount()
	callsDuring := st.fake.Calls()
	off := time.Now()
	st.fake.SetMaintenance(false)
	window := off.Sub(first.Time)

	figure(t, "maintenance_window", window)
	figure(t, "maintenance_clear_calls", len(callsDuring))
	figure(t, "maintenance_clear_calls_per_min", perMinute(len(callsDuring), window))
	figure(t, "maintenance_healthchecks", healthBefore)
	figure(t, "maintenance_healthchecks_per_min", perMinute(healthBefore, window))
	assert.Len(t, callsDuring, 1, "only the call that met maintenance may reach INUBIT: %s",
		describeCalls(callsDuring))
	probes := int(window / time.Second)
	assert.GreaterOrEqual(t, healthBefore, probes-2, "a health check about every second")
	assert.LessOrEqual(t, healthBefore, probes+1, "a health check about every second")

	at := requireCleared(t, st.fake, "anna", ids, 10*time.Second)
	latency := at.Sub(off)
	figure(t, "maintenance_off_to_clear", latency)
	assert.Less(t, latency, 5*time.Second, "clear after maintenance ended")

	accepted := acceptedFor(st.fake.Calls(), "anna")
	require.Len(t, accepted, 1, describeCalls(st.fake.Calls()))
	assert.ElementsMatch(t, ids, accepted[0].IDs)
}

// TestServerErrorsThenDelivery: three 500s in a row are retried with
// backoff; the fourth call is accepted, and it is the only accepted one.
func TestServerErrorsThenDelivery(t *testing.T) {
	st := startStack(t)
	st.fake.FailNext(http.StatusInternalServerError, 3)

	anna := st.browser(t, "anna")
	ids := anna.mustPlaySession(t, 2)

	at := requireCleared(t, st.fake, "anna", ids, 10*time.Second)
	time.Sleep(time.Second) // room for a stray repeat
	calls := st.fake.Calls()
	figure(t, "errors500_calls", len(calls))
	figure(t, "errors500_first_to_accepted", at.Sub(calls[0].Time))

	require.Len(t, calls, 4, describeCalls(calls))
	for i, c := range calls[:3] {
		assert.Equal(t, http.StatusInternalServerError, c.Status, "call %d", i)
		assert.ElementsMatch(t, ids, c.IDs, "call %d", i)
	}
	accepted := acceptedFor(calls, "anna")
	require.Len(t, accepted, 1)
	assert.ElementsMatch(t, ids, accepted[0].IDs)
}
