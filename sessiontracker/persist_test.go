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

	changed, deleted := tr.TakeChanges()
	assert.Len(t, changed, 2)
	assert.Empty(t, deleted)

	// nothing new: a request a second later does not make a write
	tr.Observe(t0.Add(time.Second), Observation{Key: k1, HasKey: true})
	changed, deleted = tr.TakeChanges()
	assert.Empty(t, changed)
	assert.Empty(t, deleted)

	// a new ID, and a rotation of k1 to k2
	tr.Observe(t0.Add(2*time.Second), Observation{Key: k1, HasKey: true, IDs: []string{idB}})
	tr.Observe(t0.Add(3*time.Second), Observation{Key: k1, HasKey: true, NewKey: k2, HasNewKey: true})
	changed, deleted = tr.TakeChanges()
	require.Len(t, changed, 1)
	assert.Equal(t, k2, changed[0].Key)
	assert.Equal(t, []Entry{{idA, "alice"}, {idB, ""}}, changed[0].Entries)
	assert.Equal(t, []Key{k1}, deleted)

	// activity past the resolution (a quarter of the idle timeout) is saved
	tr.Observe(t0.Add(10*time.Minute), Observation{Key: k3, HasKey: true})
	changed, _ = tr.TakeChanges()
	require.Len(t, changed, 1)
	assert.Equal(t, t0.Add(10*time.Minute), changed[0].LastSeen)

	// an ended session is not reported as changed
	tr.Observe(t0.Add(11*time.Minute), Observation{Key: k3, HasKey: true, IDs: []string{idC}})
	require.NotNil(t, tr.Observe(t0.Add(11*time.Minute), Observation{Key: k3, HasKey: true, Logout: true}))
	changed, deleted = tr.TakeChanges()
	assert.Empty(t, changed)
	assert.Empty(t, deleted)
}

func TestRestoreBringsSessionBack(t *testing.T) {
	k1, _, _ := testKeys()
	tr := New(Config{IdleTimeout: time.Hour})
	tr.Restore(Snapshot{Key: k1, Started: t0, LastSeen: t0.Add(time.Minute), User: "alice",
		Entries: []Entry{{idA, "alice"}}})
	assert.Equal(t, 1, tr.Len())
	changed, _ := tr.TakeChanges()
	assert.Empty(t, changed, "a restored session is already stored")

	ended := tr.Observe(t0.Add(2*time.Minute), Observation{Key: k1, HasKey: true, Logout: true, IDs: []string{idB}})
	require.NotNil(t, ended)
	assert.Equal(t, []Entry{{idA, "alice"}, {idB, ""}}, ended.Entries)
	assert.Equal(t, t0, ended.Started)
}
