package sessiontracker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTakeChangesReportsNewChangedAndMovedSessions(t *testing.T) {
	k1, k2, k3 := testKeys()
	tr := New(Config{IdleTimeout: 30 * time.Minute})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idA}})
	tr.Observe(t0, Observation{Key: k3, HasKey: true, User: "carol"})

	c := tr.TakeChanges(false)
	assert.Len(t, c.Sessions, 2)
	assert.Empty(t, c.Deleted)

	// nothing new: a request a second later does not make a write
	tr.Observe(t0.Add(time.Second), Observation{Key: k1, HasKey: true})
	assert.Equal(t, Changes{}, tr.TakeChanges(false))

	// a new ID, and a rotation of k1 to k2
	tr.Observe(t0.Add(2*time.Second), Observation{Key: k1, HasKey: true, IDs: []string{idB}})
	tr.Observe(t0.Add(3*time.Second), Observation{Key: k1, HasKey: true, NewKey: k2, HasNewKey: true})
	c = tr.TakeChanges(false)
	require.Len(t, c.Sessions, 1)
	assert.Equal(t, k2, c.Sessions[0].Key)
	assert.Equal(t, []Entry{{idA, "alice"}, {idB, ""}}, c.Sessions[0].Entries)
	assert.Equal(t, []Key{k1}, c.Deleted)
	assert.Empty(t, c.Appended, "the new ID is in the rotated session's record")

	// activity past the resolution (a quarter of the idle timeout) is saved
	tr.Observe(t0.Add(10*time.Minute), Observation{Key: k3, HasKey: true})
	c = tr.TakeChanges(false)
	require.Len(t, c.Sessions, 1)
	assert.Equal(t, t0.Add(10*time.Minute), c.Sessions[0].LastSeen)

	// an ended session is not reported as changed
	tr.Observe(t0.Add(11*time.Minute), Observation{Key: k3, HasKey: true, IDs: []string{idC}})
	require.NotNil(t, tr.Observe(t0.Add(11*time.Minute), Observation{Key: k3, HasKey: true, Logout: true}))
	assert.Equal(t, Changes{}, tr.TakeChanges(false))
}

// A new ID of a stored session goes out as Appended (a small write), not
// as the whole session; a fold writes every session with appended
// entries whole once more, so the store can drop its appended entries.
func TestNewIDsOfAStoredSessionAreAppendedUntilAFold(t *testing.T) {
	k1, k2, _ := testKeys()
	tr := New(Config{IdleTimeout: 30 * time.Minute})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idA}})
	tr.Observe(t0, Observation{Key: k2, HasKey: true, User: "bob", IDs: []string{idA}})
	require.Len(t, tr.TakeChanges(false).Sessions, 2)

	tr.Observe(t0.Add(time.Second), Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idB}})
	tr.Observe(t0.Add(time.Second), Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idB, idC}})
	c := tr.TakeChanges(false)
	assert.Empty(t, c.Sessions)
	assert.Equal(t, []Appended{{Key: k1, Started: t0, Entries: []Entry{{idB, "alice"}, {idC, "alice"}}}}, c.Appended)

	// A new user needs the record: the entries gained meanwhile go with it.
	tr.Observe(t0.Add(2*time.Second), Observation{Key: k2, HasKey: true, IDs: []string{idB}})
	tr.Observe(t0.Add(2*time.Second), Observation{Key: k2, HasKey: true, User: "bert"})
	c = tr.TakeChanges(false)
	assert.Empty(t, c.Appended)
	require.Len(t, c.Sessions, 1)
	assert.Equal(t, []Entry{{idA, "bob"}, {idB, ""}}, c.Sessions[0].Entries)

	// Known IDs change nothing; a fold rewrites k1 (it has appended
	// entries), not k2 (its record is whole).
	tr.Observe(t0.Add(3*time.Second), Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idA, idC}})
	c = tr.TakeChanges(true)
	assert.Empty(t, c.Appended)
	require.Len(t, c.Sessions, 1)
	assert.Equal(t, k1, c.Sessions[0].Key)
	assert.Equal(t, []Entry{{idA, "alice"}, {idB, "alice"}, {idC, "alice"}}, c.Sessions[0].Entries)
	assert.Equal(t, Changes{}, tr.TakeChanges(true), "nothing left to fold")
}

func TestRestoreBringsSessionBack(t *testing.T) {
	k1, _, _ := testKeys()
	tr := New(Config{IdleTimeout: time.Hour})
	tr.Restore(Snapshot{Key: k1, Started: t0, LastSeen: t0.Add(time.Minute), User: "alice",
		Entries: []Entry{{idA, "alice"}}})
	assert.Equal(t, 1, tr.Len())
	assert.Equal(t, Changes{}, tr.TakeChanges(true), "a restored session is already stored")

	ended := tr.Observe(t0.Add(2*time.Minute), Observation{Key: k1, HasKey: true, Logout: true, IDs: []string{idB}})
	require.NotNil(t, ended)
	assert.Equal(t, []Entry{{idA, "alice"}, {idB, ""}}, ended.Entries)
	assert.Equal(t, t0, ended.Started)
}

// After a restart, a restored session's next ID is appended alone: the
// store holds the rest already.
func TestRestoredSessionAppendsOnlyWhatIsNew(t *testing.T) {
	k1, _, _ := testKeys()
	tr := New(Config{IdleTimeout: time.Hour})
	tr.Restore(Snapshot{Key: k1, Started: t0, LastSeen: t0, User: "alice", Entries: []Entry{{idA, "alice"}}})
	tr.Observe(t0.Add(time.Second), Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idA, idB}})
	assert.Equal(t, Changes{Appended: []Appended{{Key: k1, Started: t0, Entries: []Entry{{idB, "alice"}}}}},
		tr.TakeChanges(false))
}

// Regression (found in review): the stored record of a session that
// rotated away must be deleted even when a request with the old cookie
// value ends "its" session (a logout from a stale tab) or a new session
// takes the old value and ends before the next write. Otherwise a
// restart brought the old record back beside the rotated session, and
// its idle end cleared IDs the live session was still using.
func TestMovedRecordIsDeletedWhateverHappensUnderTheOldKey(t *testing.T) {
	k1, k2, _ := testKeys()
	tr := New(Config{IdleTimeout: time.Hour})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idA}})
	tr.TakeChanges(false)

	tr.Observe(t0.Add(time.Second), Observation{Key: k1, HasKey: true, NewKey: k2, HasNewKey: true})
	assert.Nil(t, tr.Observe(t0.Add(2*time.Second), Observation{Key: k1, HasKey: true, Logout: true}))
	c := tr.TakeChanges(false)
	assert.Equal(t, []Key{k1}, c.Deleted, "a logout under the old value")
	require.Len(t, c.Sessions, 1)
	assert.Equal(t, k2, c.Sessions[0].Key)

	tr.Observe(t0.Add(3*time.Second), Observation{Key: k2, HasKey: true, NewKey: k1, HasNewKey: true})
	tr.TakeChanges(false)
	tr.Observe(t0.Add(4*time.Second), Observation{Key: k1, HasKey: true, NewKey: k2, HasNewKey: true})
	tr.Observe(t0.Add(5*time.Minute), Observation{Key: k1, HasKey: true, User: "bob", IDs: []string{idB}})
	require.NotNil(t, tr.Observe(t0.Add(6*time.Minute), Observation{Key: k1, HasKey: true, Logout: true}))
	c = tr.TakeChanges(false)
	assert.Equal(t, []Key{k1}, c.Deleted, "a new session under the old value that ended before the write")
}

// A fold pass lists the sessions with appended entries once, then takes
// them whole a slice at a time: each slice stops once its entries reach
// the budget, skips sessions rewritten or ended meanwhile, and leaves the
// rest for the next write.
func TestRewriteWholeTakesTheAppendedSessionsASliceAtATime(t *testing.T) {
	k1, k2, k3 := testKeys()
	tr := New(Config{IdleTimeout: 30 * time.Minute})
	for _, k := range []Key{k1, k2, k3} {
		tr.Observe(t0, Observation{Key: k, HasKey: true, User: "alice", IDs: []string{idA}})
	}
	require.Len(t, tr.TakeChanges(false).Sessions, 3)
	assert.Empty(t, tr.AppendedKeys(), "no session has appended entries yet")
	for _, k := range []Key{k1, k2, k3} {
		tr.Observe(t0.Add(time.Second), Observation{Key: k, HasKey: true, User: "alice", IDs: []string{idB}})
	}
	require.Len(t, tr.TakeChanges(false).Appended, 3)
	keys := tr.AppendedKeys()
	require.ElementsMatch(t, []Key{k1, k2, k3}, keys)

	// Each session holds two entries: a budget of three takes two of them.
	rest := tr.RewriteWhole(keys, 3)
	assert.Equal(t, keys[2:], rest)
	c := tr.TakeChanges(false)
	assert.ElementsMatch(t, keys[:2], []Key{c.Sessions[0].Key, c.Sessions[1].Key})
	assert.Len(t, c.Sessions, 2)
	assert.Equal(t, []Entry{{idA, "alice"}, {idB, "alice"}}, c.Sessions[0].Entries)
	assert.Empty(t, tr.RewriteWhole(keys[:2], 3), "rewritten sessions are passed over")
	assert.Equal(t, Changes{}, tr.TakeChanges(false), "and not written again")

	// The last one ended meanwhile: nothing left to take.
	require.NotNil(t, tr.Observe(t0.Add(2*time.Second), Observation{Key: rest[0], HasKey: true, Logout: true}))
	assert.Empty(t, tr.RewriteWhole(rest, 3))
	assert.Empty(t, tr.TakeChanges(false).Sessions)
	assert.Empty(t, tr.AppendedKeys())
}
