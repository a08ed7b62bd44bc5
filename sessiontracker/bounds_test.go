package sessiontracker

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func formID(n int) string {
	return fmt.Sprintf("webform@@@OrderWAC/form_orderentry(%d)_orderapp@@@%d.xml", n, 10000+n)
}

// collectEvicted records what the tracker evicts.
type collectEvicted struct {
	mu    sync.Mutex
	ended []Ended
}

func (c *collectEvicted) add(e []Ended) {
	c.mu.Lock()
	c.ended = append(c.ended, e...)
	c.mu.Unlock()
}

func TestFullTableEndsTheLeastRecentlySeenSessionWithItsEntries(t *testing.T) {
	h := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	tr := New(Config{MaxSessions: 3})
	var got collectEvicted
	tr.SetEvict(got.add)

	keys := make([]Key, 4)
	for i := range keys {
		keys[i] = h.Key(fmt.Sprint("session-", i))
	}
	for i := 0; i < 3; i++ {
		tr.Observe(t0.Add(time.Duration(i)*time.Second), Observation{Key: keys[i], HasKey: true, User: "u", IDs: []string{formID(i)}})
	}
	// Session 0 is used again, so session 1 is now the least recently seen.
	tr.Observe(t0.Add(10*time.Second), Observation{Key: keys[0], HasKey: true})
	tr.Observe(t0.Add(11*time.Second), Observation{Key: keys[3], HasKey: true, User: "u", IDs: []string{formID(3)}})

	assert.Equal(t, 3, tr.Len(), "the bound holds")
	require.Len(t, got.ended, 1)
	assert.Equal(t, keys[1], got.ended[0].Key)
	assert.Equal(t, ReasonEvicted, got.ended[0].Reason)
	assert.Equal(t, []string{formID(1)}, ids(&got.ended[0]), "an evicted session's entries go to be cleared")
	assert.Equal(t, int64(1), tr.Counts().Evicted)
}

func TestFloodOfSessionsStaysWithinTheBoundAndLosesNoEntry(t *testing.T) {
	h := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	const limit, total = 500, 5000
	tr := New(Config{MaxSessions: limit})
	var got collectEvicted
	tr.SetEvict(got.add)

	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += 4 {
				tr.Observe(t0.Add(time.Duration(i)*time.Millisecond),
					Observation{Key: h.Key(fmt.Sprint("flood-", i)), HasKey: true, IDs: []string{formID(i)}})
			}
		}()
	}
	wg.Wait()
	tr.EnforceMaxSessions()

	assert.LessOrEqual(t, tr.Len(), limit)
	live := 0
	changed := tr.TakeChanges(false).Sessions
	for _, snap := range changed {
		live += len(snap.Entries)
	}
	assert.Equal(t, total, live+len(got.ended), "every session is either live or handed on to be cleared")
	assert.Equal(t, int64(len(got.ended)), tr.Counts().Evicted)
}

func TestSessionKeepsAtMostMaxIDsAndCountsTheRest(t *testing.T) {
	k1, k2, _ := testKeys()
	tr := New(Config{MaxIDsPerSession: 2})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, IDs: []string{idA, idB, idC}})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, IDs: []string{idA}})
	assert.Equal(t, int64(1), tr.Counts().RefusedIDs, "a repeated ID is not a refusal")

	// Rotation into a session that is already full keeps every accepted
	// entry: the bound refuses new IDs, it never drops kept ones.
	tr.Observe(t0, Observation{Key: k2, HasKey: true, IDs: []string{idC}})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, NewKey: k2, HasNewKey: true})
	ended := tr.Observe(t0, Observation{Key: k2, HasKey: true, Logout: true})
	require.NotNil(t, ended)
	assert.ElementsMatch(t, []string{idA, idB, idC}, ids(ended))
}

func TestRestoreKeepsStoredEntriesOverTheLimit(t *testing.T) {
	k1, _, _ := testKeys()
	tr := New(Config{MaxIDsPerSession: 1})
	tr.Restore(Snapshot{Key: k1, Started: t0, LastSeen: t0, Entries: []Entry{{ID: idA}, {ID: idB}}})
	ended := tr.Observe(t0, Observation{Key: k1, HasKey: true, Logout: true})
	require.NotNil(t, ended)
	assert.Equal(t, []string{idA, idB}, ids(ended))
	assert.Equal(t, 0, tr.Len())
}

// Regression (hostile input): a flood of one-request sessions pushed
// out sessions in real use. Sessions seen on several requests now go
// only after every one-request session.
func TestFloodOfOneRequestSessionsSparesSessionsInUse(t *testing.T) {
	h := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	tr := New(Config{MaxSessions: 10})
	var got collectEvicted
	tr.SetEvict(got.add)
	user := h.Key("real-user")
	tr.Observe(t0, Observation{Key: user, HasKey: true, User: "anna", IDs: []string{formID(0)}})
	tr.Observe(t0.Add(time.Second), Observation{Key: user, HasKey: true})
	for i := 1; i <= 100; i++ {
		tr.Observe(t0.Add(time.Duration(i+1)*time.Second),
			Observation{Key: h.Key(fmt.Sprint("forged-", i)), HasKey: true, IDs: []string{formID(i)}})
	}
	assert.True(t, tr.Has(user), "the session in use stays")
	assert.LessOrEqual(t, tr.Len(), 10)
	for _, e := range got.ended {
		assert.NotEqual(t, user, e.Key)
	}
}
