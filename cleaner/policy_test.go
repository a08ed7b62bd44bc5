package cleaner

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

func startFake(t *testing.T, p fakeinubit.Profile) (*fakeinubit.Server, string) {
	inubit := fakeinubit.New(p, map[string]string{"svc": "pw"})
	srv := httptest.NewServer(inubit)
	t.Cleanup(srv.Close)
	return inubit, srv.URL + fakeinubit.ClearPath
}

func waitFor(t *testing.T, inubit *fakeinubit.Server, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, inubit.WaitFor(ctx, cond))
}

// During maintenance only the health check is asked, every probe
// interval; once maintenance ends the queue is delivered at the next
// probe.
func TestMaintenancePausesCallsAndProbesHealth(t *testing.T) {
	inubit, endpoint := startFake(t, fakeinubit.Profile9XML)
	inubit.SetMaintenance(true)
	c := startCleaner(t, Config{
		Endpoint: endpoint, Username: "svc", Password: "pw",
		RetryMin: time.Millisecond, RetryMax: time.Millisecond,
		MaintenanceProbe: 50 * time.Millisecond,
	})
	for _, user := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
		require.NoError(t, c.Enqueue(user, []string{id1, id2}))
	}
	waitFor(t, inubit, func() bool { return inubit.HealthcheckCount() >= 6 })
	assert.LessOrEqual(t, inubit.ClearCallCount(), DefaultConcurrency,
		"after the first 503s nothing but the health check reaches INUBIT")

	inubit.SetMaintenance(false)
	start := time.Now()
	waitFor(t, inubit, func() bool { return len(inubit.Cleared()) == 6 })
	assert.Less(t, time.Since(start), 2*time.Second, "delivered at the next probe")
	assert.Eventually(t, func() bool { return len(c.Pending()) == 0 }, 5*time.Second, time.Millisecond)
}

// A health check that hangs is cut off by the timeout like any call, and
// probing goes on: one INUBIT thread stuck in maintenance must not stall
// delivery after maintenance ends.
func TestHangingHealthCheckTimesOutAndProbingGoesOn(t *testing.T) {
	inubit := fakeinubit.New(fakeinubit.Profile9XML, map[string]string{"svc": "pw"})
	inubit.SetMaintenance(true)
	var hang atomic.Bool
	hang.Store(true)
	var asked atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/healthcheck") {
			asked.Add(1)
			if hang.Load() {
				select { // longer than the timeout; released at the end
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
		}
		inubit.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c := startCleaner(t, Config{
		Endpoint: srv.URL + fakeinubit.ClearPath, Username: "svc", Password: "pw",
		Timeout: 200 * time.Millisecond, MaintenanceProbe: 100 * time.Millisecond,
	})
	require.NoError(t, c.Enqueue("alice", []string{id1}))
	require.Eventually(t, func() bool { return asked.Load() >= 3 }, 10*time.Second, 10*time.Millisecond,
		"each hanging health check ends at the timeout and the next probe follows")
	assert.Equal(t, 1, inubit.ClearCallCount(), "no clear call while the health check does not answer")

	hang.Store(false)
	inubit.SetMaintenance(false)
	waitFor(t, inubit, func() bool { return len(inubit.Cleared()["alice"]) == 1 })
}

// A refused service account stops the calls; new credentials through
// Configure are used at once, not after the retry interval.
func TestWrongPasswordThenReloadDeliversAtOnce(t *testing.T) {
	inubit, endpoint := startFake(t, fakeinubit.Profile8)
	cfg := Config{Endpoint: endpoint, Username: "svc", Password: "wrong", AuthRetry: time.Hour}
	core, logs := observer.New(zap.InfoLevel)
	c := startCleanerLogging(t, cfg, zap.New(core))
	require.NoError(t, c.Enqueue("alice", []string{id1}))
	require.NoError(t, c.Enqueue("bob", []string{id2}))
	waitFor(t, inubit, func() bool { return inubit.ClearCallCount() >= 1 })
	require.Eventually(t, func() bool { return logs.FilterMessageSnippet("refuses the service account").Len() == 1 },
		5*time.Second, time.Millisecond)
	calls := inubit.ClearCallCount()
	assert.LessOrEqual(t, calls, 2, "no retry storm while the password is wrong")

	cfg.Password = "pw"
	require.NoError(t, c.Configure(cfg))
	waitFor(t, inubit, func() bool { return len(inubit.Cleared()) == 2 })
	for _, call := range inubit.Calls() {
		if call.Status == http.StatusUnauthorized {
			assert.Contains(t, call.Body, "webform@@@", "the refused calls kept their IDs queued")
		}
	}
	require.Eventually(t, func() bool { return logs.FilterMessage("INUBIT accepts the service account again").Len() == 1 },
		5*time.Second, time.Millisecond, "the fix is confirmed in the log, also when a reload lifted the pause")
}

// The same after the admin API's retry instead of a reload (the
// password was put right in INUBIT).
func TestRefusedAccountThenRetryNowLogsAcceptance(t *testing.T) {
	inubit, endpoint := startFake(t, fakeinubit.Profile8)
	core, logs := observer.New(zap.InfoLevel)
	c := startCleanerLogging(t, Config{Endpoint: endpoint, Username: "svc", Password: "pw", AuthRetry: time.Hour}, zap.New(core))
	inubit.SetAccount("svc", "rotated")
	require.NoError(t, c.Enqueue("alice", []string{id1}))
	waitFor(t, inubit, func() bool { return inubit.ClearCallCount() >= 1 })
	require.Eventually(t, func() bool { return logs.FilterMessageSnippet("refuses the service account").Len() == 1 },
		5*time.Second, time.Millisecond)
	inubit.SetAccount("svc", "pw")
	assert.Equal(t, "auth", c.RetryNow())
	waitFor(t, inubit, func() bool { return len(inubit.Cleared()) == 1 })
	require.Eventually(t, func() bool { return logs.FilterMessage("INUBIT accepts the service account again").Len() == 1 },
		5*time.Second, time.Millisecond)
}

// An entry INUBIT keeps refusing while the others are cleared is found
// by splitting its batch and parked; the rest go through.
func TestRefusedEntryIsIsolatedAndParked(t *testing.T) {
	// 404 is what INUBIT answers for an entry it does not know; 400 for
	// one it cannot read. Either way only that entry is parked.
	for _, status := range []int{http.StatusNotFound, http.StatusBadRequest, http.StatusUnprocessableEntity} {
		t.Run(strconv.Itoa(status), func(t *testing.T) { refusedEntryIsIsolatedAndParked(t, status) })
	}
}

func refusedEntryIsIsolatedAndParked(t *testing.T, refusal int) {
	const poison = "webform@@@OrderWAC/form_orderentry(9)_orderapp@@@66666.xml"
	cleared := make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), poison) {
			w.WriteHeader(refusal)
			return
		}
		for _, id := range strings.Split(string(body), "\n") {
			cleared <- id
		}
	}))
	defer srv.Close()
	q := NewMemoryQueue()
	c, err := New(Config{Endpoint: srv.URL, Username: "u", RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond},
		q, zap.NewNop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)

	require.NoError(t, c.Enqueue("alice", []string{id1, poison, id2, id3}))
	require.NoError(t, c.Enqueue("bob", []string{id1}))
	require.Eventually(t, func() bool { return len(q.Parked()["alice"]) == 1 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, []string{poison}, q.Parked()["alice"])
	assert.Equal(t, 1, c.Stats().Parked)
	require.Eventually(t, func() bool { return len(c.Pending()) == 0 }, 10*time.Second, time.Millisecond)
	close(cleared)
	var got []string
	for id := range cleared {
		got = append(got, id)
	}
	assert.ElementsMatch(t, []string{id1, id2, id3, id1}, got)
}

// When every call is refused (a wrong endpoint path), nothing is parked:
// it is a config mistake, not a bad entry.
func TestRefusalOfEverythingParksNothing(t *testing.T) {
	inubit := http.NotFoundHandler()
	srv := httptest.NewServer(inubit)
	defer srv.Close()
	q := NewMemoryQueue()
	c, err := New(Config{Endpoint: srv.URL + "/wrong/path", Username: "u",
		RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond}, q, zap.NewNop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	require.NoError(t, c.Enqueue("alice", []string{id1, id2}))
	require.Eventually(t, func() bool { return c.attempts("alice") >= 6 }, 10*time.Second, time.Millisecond)
	assert.Empty(t, q.Parked())
	assert.Equal(t, map[string]int{"alice": 2}, c.Pending())
}

func TestHealthURLAndMaintenanceParsing(t *testing.T) {
	cfg, _, err := Config{Endpoint: "https://inubit:8443/ibis/rest/webapp/session/instances?userType=x"}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, "https://inubit:8443/ibis/rest/healthcheck", cfg.HealthURL)
	cfg, _, err = Config{Endpoint: "http://proxy/inubit/ibis/rest/webapp/session/instances/"}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, "http://proxy/inubit/ibis/rest/healthcheck", cfg.HealthURL)

	tests := map[string]struct {
		status int
		body   string
		want   bool
	}{
		"string 1":        {200, `{"status":"OK","maintenancemode":"1"}`, true},
		"string 0":        {200, `{"status":"OK","maintenancemode":"0"}`, false},
		"number 1":        {200, `{"maintenancemode":1}`, true},
		"bool":            {200, `{"maintenancemode":true}`, true},
		"old 503":         {503, ``, true},
		"garbage":         {200, `<html>`, false},
		"missing field":   {200, `{"status":"OK"}`, false},
		"no health check": {404, ``, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, maintenanceOn(tc.status, []byte(tc.body)))
		})
	}
}

// runRefusing starts a Cleaner against the emulator, which refuses
// poison with status, and returns both with the Cleaner's queue.
func runRefusing(t *testing.T, status int) (*fakeinubit.Server, *Cleaner, *MemoryQueue) {
	inubit, endpoint := startFake(t, fakeinubit.Profile9XML)
	inubit.RefuseEntry(poison, status)
	q := NewMemoryQueue()
	c, err := New(Config{Endpoint: endpoint, Username: "svc", Password: "pw",
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}, q, zap.NewNop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.Run(ctx)
	return inubit, c, q
}

const poison = "webform@@@OrderWAC/form_orderentry(9)_orderapp@@@66666.xml"

// Regression (entries held back): a user's one refused entry at the
// head of the queue blocked the entries behind it while no other user's
// call succeeded: its batch was split down to that entry, which was then
// sent alone again and again. Expected: the entries behind it go
// through, which shows INUBIT works, and the refused one is parked.
func TestRefusedEntryAtTheHeadDoesNotHoldBackTheUsersOthers(t *testing.T) {
	inubit, c, q := runRefusing(t, http.StatusBadRequest)
	require.NoError(t, c.Enqueue("alice", []string{poison, id1, id2}))
	waitFor(t, inubit, func() bool { return len(inubit.Cleared()["alice"]) == 2 })
	require.Eventually(t, func() bool { return len(q.Parked()["alice"]) == 1 }, 10*time.Second, time.Millisecond)
	assert.ElementsMatch(t, []string{id1, id2}, inubit.Cleared()["alice"])
	assert.Equal(t, []string{poison}, q.Parked()["alice"])
	assert.Eventually(t, func() bool { return len(c.Pending()) == 0 }, 5*time.Second, time.Millisecond)
	assert.LessOrEqual(t, inubit.ClearCallCount(), 8, "found in a few calls, not by waiting out backoff")
}

// A lone entry that INUBIT refuses, with nothing else queued anywhere,
// gives no sign that INUBIT works: it stays queued, not parked.
func TestLoneRefusedEntryStaysQueued(t *testing.T) {
	inubit, c, q := runRefusing(t, http.StatusNotFound)
	require.NoError(t, c.Enqueue("alice", []string{poison}))
	waitFor(t, inubit, func() bool { return inubit.ClearCallCount() >= 5 })
	assert.Empty(t, q.Parked())
	assert.Equal(t, map[string]int{"alice": 1}, c.Pending())
}

// Regression (secret in logs): a connection error quoted the endpoint
// with its query, which may hold a token, in the logged error.
func TestConnectionErrorsLeaveTheQueryOut(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL + "/ibis/rest/webapp/session/instances?apikey=TOPSECRET"
	srv.Close() // nothing listens there now
	q := NewMemoryQueue()
	c, err := New(Config{Endpoint: endpoint, Username: "u", RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond},
		q, zap.NewNop())
	require.NoError(t, err)
	status, _, err := c.post(context.Background(), c.cfg, c.endpoint, c.client, "alice", []string{id1})
	require.Error(t, err)
	assert.Zero(t, status)
	assert.NotContains(t, err.Error(), "TOPSECRET")
	assert.NotContains(t, err.Error(), "alice")
}
