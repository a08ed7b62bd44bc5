package inubitsessions

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/inubit-caddy/caddy-inubit-sessions/cleaner"
	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// Regression (hang on stop/reload): dispatch sends ended sessions on a channel
// of 1024 with a blocking send, and the sweep loop does not look at ctx
// while it dispatches. When Destruct cancels during a sweep that ends
// many sessions (after a restart restored sessions that idled out while
// Caddy was down, or a mass idle-out), the persist worker does its final
// drain and exits, the sweep blocks on the full channel, and Destruct
// waits for it forever: `caddy stop` / a storage-changing reload hangs.
// Expected: Destruct returns promptly (and the rest stay in the store).
func TestDestructReturnsDuringBigSweep(t *testing.T) {
	_, srv := newStubINUBIT(t)
	st, err := newState(t.TempDir(), false, cleaner.Config{Endpoint: srv.URL, Username: "svc"},
		trackerSettings{
			limits:        sessiontracker.Config{IdleTimeout: time.Hour},
			sweepInterval: 200 * time.Millisecond,
		}, zap.NewNop())
	require.NoError(t, err)

	const n = 5000 // more than the 1024 the old channel held
	old := time.Now().Add(-2 * time.Hour)
	for i := range n {
		var k sessiontracker.Key
		copy(k[:], fmt.Sprintf("k%09d", i))
		st.tracker.Restore(sessiontracker.Snapshot{Key: k, Started: old, LastSeen: old, User: "u",
			Entries: []sessiontracker.Entry{{ID: fmt.Sprintf("webform@@@W/f_a@@@%d.xml", i)}}})
	}
	// wait until the sweep has taken them and is dispatching
	require.Eventually(t, func() bool { return st.tracker.Len() == 0 }, 10*time.Second, time.Millisecond)

	done := make(chan struct{})
	go func() { _ = st.Destruct(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		if testing.Verbose() {
			buf := make([]byte, 1<<20)
			t.Log(string(buf[:runtime.Stack(buf, true)]))
		}
		t.Fatal("Destruct did not return: the sweep is blocked sending to the ended channel")
	}
}

// Stopping while a clear call hangs on an INUBIT that never answers
// returns quickly, keeps the entry queued, and the next start delivers
// it.
func TestStopWhileINUBITHangsKeepsEntry(t *testing.T) {
	hang, arrived := make(chan struct{}), make(chan struct{}, 10)
	hung := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		arrived <- struct{}{}
		<-hang
	}))
	defer hung.Close()
	defer close(hang)
	dir := t.TempDir()

	st := startState(t, dir, hung.URL+fakeinubit.ClearPath)
	key := st.hasher.Key("C1")
	st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: key, HasKey: true, User: "ann", IDs: []string{testID}})
	st.dispatch(st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: key, HasKey: true, Logout: true}))
	require.Eventually(t, func() bool { return st.cleaner.Pending()["ann"] == 1 }, 5*time.Second, time.Millisecond)
	<-arrived // the call is in flight

	start := time.Now()
	require.NoError(t, st.Destruct())
	stopTime := time.Since(start)
	assert.Less(t, stopTime, 5*time.Second)
	t.Logf("stop took %s with a clear call in flight", stopTime)

	inubit := fakeinubit.New(fakeinubit.Profile9XML, map[string]string{"svc": "pw"})
	srv := httptest.NewServer(inubit)
	defer srv.Close()
	st = startState(t, dir, srv.URL+fakeinubit.ClearPath)
	defer st.Destruct()
	waitCleared(t, inubit, "ann", testID)
}
