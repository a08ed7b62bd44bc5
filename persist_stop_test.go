package inubitsessions

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
	"github.com/inubit-caddy/caddy-inubit-sessions/store"
)

func stopID(s string, n int) string {
	return fmt.Sprintf("webform@@@ReviewWAC/form_%s(%d)_app@@@1%03d.xml", s, n, n)
}

// waitLate waits until the stop's last write has taken the ended
// sessions (its first attempt), after which requests write themselves.
func waitLate(t *testing.T, st *state) {
	t.Helper()
	require.Eventually(t, st.late.Load, 5*time.Second, time.Millisecond)
}

// lateEnd creates a session and ends it after the stop, so that dispatch
// writes it itself (the late-end path).
func lateEnd(st *state, cookie string) {
	k := st.hasher.Key(cookie)
	st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: k, HasKey: true, User: "bob", IDs: []string{stopID("bob", 9)}})
	st.dispatch(st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: k, HasKey: true, Logout: true}))
}

func stopEntryIDs(e *sessiontracker.Ended) []string {
	var got []string
	for _, en := range e.Entries {
		got = append(got, en.ID)
	}
	return got
}

func reopenAndEnd(t *testing.T, dir, cookie string) []string {
	t.Helper()
	srv := httptest.NewServer(fakeinubit.New(fakeinubit.Profile9XML, map[string]string{"svc": "pw"}))
	defer srv.Close()
	st := startState(t, dir, srv.URL+fakeinubit.ClearPath)
	defer st.Destruct()
	ended := st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: st.hasher.Key(cookie), HasKey: true, Logout: true})
	require.NotNil(t, ended, "session %s restored", cookie)
	return stopEntryIDs(ended)
}

func setFoldAfterRecords(t *testing.T, n int) {
	old := foldAfterRecords
	foldAfterRecords = n
	t.Cleanup(func() { foldAfterRecords = old })
}

// The stop's write fails and is retried; meanwhile a session ends late
// and a fold pass would be due. A crash right after the late write must
// still find the appended entry A had written before the stop: the late
// write runs no pass (the stop took every session's appended entries into
// its own, unwritten, batch, so a pass would list none and drop their
// records), and it waits for the stop's retries. The scenarios in this
// file come from a review of the stop path.
func TestCrashDuringTheStopsRetriesKeepsAppendedRecords(t *testing.T) {
	setFoldAfterRecords(t, 1<<30)
	srv := httptest.NewServer(fakeinubit.New(fakeinubit.Profile9XML, map[string]string{"svc": "pw"}))
	defer srv.Close()
	dir, crashed := t.TempDir(), t.TempDir()
	st := startState(t, dir, srv.URL+fakeinubit.ClearPath)
	kA := st.hasher.Key("COOKIE-A")
	var c store.Batch
	st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: kA, HasKey: true, User: "alice", IDs: []string{stopID("a", 1)}})
	require.NoError(t, st.flush(&c, false, false)) // A whole
	st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: kA, HasKey: true, User: "alice", IDs: []string{stopID("a", 2)}})
	require.NoError(t, st.flush(&c, false, false)) // A's second entry: an appended record, committed

	f := swapFaulty(st)
	f.failAll.Store(true)
	f.failFold.Store(true)
	st.cancel() // the worker's last write fails and is retried
	waitLate(t, st)
	st.flushMu.Lock()
	f.failAll.Store(false) // the store is back, but the worker sleeps before its retry
	foldAfterRecords = 1   // a pass is due (appendedRecords is 1)
	st.flushMu.Unlock()

	lateEnd(st, "COOKIE-B")
	image, err := os.ReadFile(filepath.Join(dir, store.FileName)) // a crash now
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(crashed, store.FileName), image, 0o600))
	f.failFold.Store(false)
	st.done.Wait()
	require.NoError(t, st.store.Close())

	assert.ElementsMatch(t, []string{stopID("a", 1), stopID("a", 2)}, reopenAndEnd(t, crashed, "COOKIE-A"),
		"A's second entry was durable before the stop")
}

// Only the stop's folding write fails (as a large write may on a nearly
// full disk): the retries go without the fold and land, and A's later
// change (a user and a second entry), written after them, is kept.
func TestStopRetriesWithoutTheFoldBeforeLateWrites(t *testing.T) {
	dir := t.TempDir()
	st, f, kA := stopWhileTheFoldFails(t, dir, "") // A has no user yet
	// A request that outlived the shutdown: A gains a user and an entry
	// (a whole record), and another session ends, so dispatch writes.
	st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: kA, HasKey: true, User: "alice", IDs: []string{stopID("a", 2)}})
	lateEnd(st, "COOKIE-B")
	f.failFold.Store(false) // the worker's retry now lands, after the late write
	st.done.Wait()
	require.NoError(t, st.store.Close())
	assert.ElementsMatch(t, []string{stopID("a", 1), stopID("a", 2)}, reopenAndEnd(t, dir, "COOKIE-A"))
}

// A session that ends during the stop's retries stays ended: its end is
// written after the retried batch that holds its record, not before.
func TestSessionEndedDuringTheStopsRetriesStaysEnded(t *testing.T) {
	dir := t.TempDir()
	st, f, kA := stopWhileTheFoldFails(t, dir, "alice")
	st.dispatch(st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: kA, HasKey: true, Logout: true}))
	f.failFold.Store(false)
	st.done.Wait()
	require.NoError(t, st.store.Close())

	srv2 := httptest.NewServer(fakeinubit.New(fakeinubit.Profile9XML, map[string]string{"svc": "pw"}))
	defer srv2.Close()
	st = startState(t, dir, srv2.URL+fakeinubit.ClearPath)
	defer st.Destruct()
	assert.False(t, st.tracker.Has(kA), "A logged out; its IDs are queued, its record must be gone")
}

// stopWhileTheFoldFails starts a state in dir whose session A (cookie
// COOKIE-A, with user, which may be empty) holds one entry, and stops it
// with a store that fails every write; it returns once the stop's first
// write has failed, with the store failing only folding writes from then
// on. The stop's worker is still retrying: wait for st.done.
func stopWhileTheFoldFails(t *testing.T, dir, user string) (*state, *faultyStore, sessiontracker.Key) {
	t.Helper()
	srv := httptest.NewServer(fakeinubit.New(fakeinubit.Profile9XML, map[string]string{"svc": "pw"}))
	t.Cleanup(srv.Close)
	st := startState(t, dir, srv.URL+fakeinubit.ClearPath)
	kA := st.hasher.Key("COOKIE-A")
	f := swapFaulty(st)
	f.failAll.Store(true)
	f.failFold.Store(true)
	st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: kA, HasKey: true, User: user, IDs: []string{stopID("a", 1)}})
	st.cancel()
	waitLate(t, st)
	f.failAll.Store(false)
	return st, f, kA
}

// A request that outlived its server's shutdown and added an ID to a
// live session writes it itself, as no worker will: the ID is there
// after a restart. When the store is already closed, the ID is logged
// as not written, not lost silently. (A review's scenario.)
func TestLateIDOfALiveSessionIsWrittenOrReported(t *testing.T) {
	dir := t.TempDir()
	st, logs := startObservedState(t, dir)
	observeLive(st, "alice", 1)
	st.cancel()
	st.done.Wait() // the stop's last write succeeded; the store is still open
	observeLive(st, "alice", 2)
	require.NoError(t, st.store.Close())
	observeLive(st, "alice", 3)

	unsaved := logs.FilterMessageSnippet("not written and not retried").All()
	require.Len(t, unsaved, 1)
	assert.Contains(t, unsaved[0].ContextMap()["live_session_entry_ids_by_user"], "alice")
	assert.Contains(t, fmt.Sprint(unsaved[0].ContextMap()["live_session_entry_ids_by_user"]), stopID("a", 3))
	assert.ElementsMatch(t, []string{stopID("a", 1), stopID("a", 2)}, reopenAndEnd(t, dir, liveCookie))
}

// An ID that a request without a user added to a session of alice's,
// and that could not be written, is logged under alice: she is the user
// it would have been cleared as, and an operator clears it by hand as
// hers.
func TestUnsavedIDWithoutUserIsLoggedUnderItsSessionsUser(t *testing.T) {
	st, logs := startObservedState(t, t.TempDir())
	observeLive(st, "alice", 1)
	st.cancel()
	st.done.Wait()
	require.NoError(t, st.store.Close())
	observeLive(st, "", 2)

	unsaved := logs.FilterMessageSnippet("not written and not retried").All()
	require.Len(t, unsaved, 1)
	byUser, ok := unsaved[0].ContextMap()["live_session_entry_ids_by_user"].(map[string][]string)
	require.True(t, ok, "%T", unsaved[0].ContextMap()["live_session_entry_ids_by_user"])
	assert.Equal(t, map[string][]string{"alice": {stopID("a", 2)}}, byUser)
}

// liveCookie is the session cookie value of observeLive's requests.
const liveCookie = "LIVE"

// observeLive records a request of the session liveCookie, showing user
// (none if "") and entry ID number n, as ServeHTTP would.
func observeLive(st *state, user string, n int) {
	st.observed(st.tracker.Observe(time.Now(), sessiontracker.Observation{Key: st.hasher.Key(liveCookie), HasKey: true,
		User: user, IDs: []string{stopID("a", n)}}))
}
