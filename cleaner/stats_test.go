package cleaner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// Calls are counted by INUBIT's status, IDs by acknowledgement, and the
// last failure is kept with INUBIT's status as its message.
func TestStatsCountCallsAndClearedIDs(t *testing.T) {
	stub, srv := newStub(t, http.StatusInternalServerError)
	c := startCleaner(t, Config{Endpoint: srv.URL, Username: "u", Password: "s3cret",
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	require.NoError(t, c.Enqueue("alice", []string{id1, id2}))
	stub.wait(t, 2)
	require.Eventually(t, func() bool { return c.Stats().Cleared == 2 }, 5*time.Second, time.Millisecond)

	s := c.Stats()
	assert.Equal(t, map[string]uint64{"500": 1, "200": 1}, s.Calls)
	assert.Zero(t, s.Pending)
	assert.True(t, s.OldestPending.IsZero(), "nothing pending, no age")
	assert.False(t, s.LastSuccess.IsZero())
	assert.Equal(t, "alice", s.LastFailure.User)
	assert.Equal(t, "500", s.LastFailure.Outcome)
	assert.Equal(t, "500 Internal Server Error", s.LastFailure.Message)
	assert.Empty(t, c.Users())
}

// Calls that get no answer are labelled timeout or error, and the
// message leaves out the URL (endpoint query and user).
func TestStatsLabelCallsWithoutAnswer(t *testing.T) {
	stop := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer slow.Close()
	defer close(stop)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	tests := map[string]struct {
		endpoint string
		want     string
	}{
		"timeout": {slow.URL + "?userType=processEngineUser", OutcomeTimeout},
		"refused": {downURL + "?userType=processEngineUser", OutcomeError},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := startCleaner(t, Config{Endpoint: tc.endpoint, Username: "u", Timeout: 50 * time.Millisecond,
				RetryMin: time.Hour, RetryMax: time.Hour})
			require.NoError(t, c.Enqueue("alice", []string{id1}))
			require.Eventually(t, func() bool { return c.Stats().Calls[tc.want] == 1 }, 5*time.Second, time.Millisecond)
			s := c.Stats()
			assert.Equal(t, tc.want, s.LastFailure.Outcome)
			assert.NotContains(t, s.LastFailure.Message, "userType")
			assert.NotContains(t, s.LastFailure.Message, "alice")
			assert.Equal(t, 1, s.Pending)
			users := c.Users()
			require.Len(t, users, 1)
			assert.Equal(t, 1, users[0].FailedAttempts)
			assert.True(t, users[0].NextTry.After(time.Now()), "waiting out the backoff")
		})
	}
}

// The oldest pending age starts when a user's queue fills, and a queue
// restored at start keeps its stored age.
func TestStatsOldestPending(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	cfg := Config{Endpoint: downURL, Username: "u", RetryMin: time.Hour, RetryMax: time.Hour}

	q := NewMemoryQueue()
	_, err := q.Add(map[string][]string{"bob": {id1}})
	require.NoError(t, err)
	queued := time.Now()
	time.Sleep(20 * time.Millisecond)
	c, err := New(cfg, q, zap.NewNop())
	require.NoError(t, err)
	assert.False(t, c.Stats().OldestPending.After(queued), "restored queue keeps its age")

	require.NoError(t, c.Enqueue("carol", []string{id2}))
	s := c.Stats()
	assert.Equal(t, 2, s.Pending)
	assert.False(t, s.OldestPending.After(queued), "the longest wait wins")
}

// RetryNow ends a backoff wait, a refused-credentials pause and a
// maintenance pause; the next call goes out at once.
func TestRetryNow(t *testing.T) {
	tests := map[string]struct {
		first  int
		paused string
	}{
		"backoff":     {http.StatusBadGateway, ""},
		"auth":        {http.StatusUnauthorized, PauseAuth},
		"maintenance": {http.StatusServiceUnavailable, PauseMaintenance},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			stub, srv := newStub(t, tc.first)
			c := startCleaner(t, Config{Endpoint: srv.URL, Username: "u",
				RetryMin: time.Hour, RetryMax: time.Hour, AuthRetry: time.Hour, MaintenanceProbe: time.Hour})
			require.NoError(t, c.Enqueue("alice", []string{id1}))
			stub.wait(t, 1)
			require.Eventually(t, func() bool { return c.Stats().Calls[strconv.Itoa(tc.first)] == 1 },
				5*time.Second, time.Millisecond)
			require.Eventually(t, func() bool { return c.Stats().Paused == tc.paused }, 5*time.Second, time.Millisecond)
			if tc.paused != "" {
				assert.True(t, c.Stats().PausedUntil.After(time.Now().Add(time.Minute)))
			}

			assert.Equal(t, tc.paused, c.RetryNow())
			stub.wait(t, 1)
			require.Eventually(t, func() bool { return c.Stats().Cleared == 1 }, 5*time.Second, time.Millisecond)
			assert.Empty(t, c.Stats().Paused)
		})
	}
}

// A released entry is counted out of the parked ones and sent again; an
// unknown one changes nothing.
func TestReleaseParkedEntry(t *testing.T) {
	stub, srv := newStub(t)
	q := NewMemoryQueue()
	_, err := q.Add(map[string][]string{"alice": {id1}})
	require.NoError(t, err)
	require.NoError(t, q.Park("alice", id1, "400 Bad Request"))
	c, err := New(Config{Endpoint: srv.URL, Username: "u"}, q, zap.NewNop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	assert.Equal(t, 1, c.Stats().Parked)

	require.Error(t, c.Release("bob", id1), "parked for alice, not bob")
	assert.Equal(t, 1, c.Stats().Parked)

	require.NoError(t, c.Release("alice", id1))
	calls := stub.wait(t, 1)
	assert.Equal(t, id1, calls[0].body)
	assert.Equal(t, 0, c.Stats().Parked)
	assert.Empty(t, q.Parked())
}

// An ID that was queued again while parked counts once when released:
// the pending count is what the queue holds.
func TestReleaseOfAnIDQueuedAgainCountsOnce(t *testing.T) {
	q := NewMemoryQueue()
	_, err := q.Add(map[string][]string{"alice": {id1}})
	require.NoError(t, err)
	require.NoError(t, q.Park("alice", id1, "400 Bad Request"))
	// Not running: no call goes out, so the counts can be read.
	_, srv := newStub(t)
	c, err := New(Config{Endpoint: srv.URL, Username: "u"}, q, zap.NewNop())
	require.NoError(t, err)
	require.NoError(t, c.Enqueue("alice", []string{id1}))
	require.Equal(t, 1, c.Stats().Pending)

	require.NoError(t, c.Release("alice", id1))
	assert.Equal(t, 1, c.Stats().Pending, "one ID pending, counted once")
	assert.Equal(t, 0, c.Stats().Parked)
	counts, err := q.PendingCounts()
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"alice": 1}, counts)
}

// IDs kept without a user are counted until a fallback user adopts them.
func TestStatsCountIDsWithoutUser(t *testing.T) {
	_, srv := newStub(t)
	c := startCleaner(t, Config{Endpoint: srv.URL, Username: "u"})
	require.NoError(t, c.Enqueue("", []string{id1, id2}))
	assert.Equal(t, 2, c.Stats().WithoutUser)
	assert.Zero(t, c.Stats().Pending)
	c.AdoptedOrphans()
	assert.Zero(t, c.Stats().WithoutUser)
}
