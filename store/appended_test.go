package store

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

const idC = "webform@@@HelpWAC/form_help(1)_helpapp@@@10022.xml"

var tA = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func appendedRecords(t *testing.T, s *Bolt) int {
	t.Helper()
	n := 0
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketAppended).Stats().KeyN
		return nil
	}))
	return n
}

func loadSessions(t *testing.T, s *Bolt) map[sessiontracker.Key]sessiontracker.Snapshot {
	t.Helper()
	out := map[sessiontracker.Key]sessiontracker.Snapshot{}
	require.NoError(t, s.Sessions(func(snap sessiontracker.Snapshot) error {
		out[snap.Key] = snap
		return nil
	}))
	return out
}

func TestAppendedRecordRoundTrip(t *testing.T) {
	a := sessiontracker.Appended{Key: sessiontracker.Key{1, 2, 3}, Started: tA,
		Entries: []sessiontracker.Entry{{ID: idA, User: "alice"}, {ID: idB}}}
	rec := encodeAppended(nil, &a)
	got, err := decodeAppended(rec)
	require.NoError(t, err)
	assert.Equal(t, a.Key, got.Key)
	assert.True(t, a.Started.Equal(got.Started))
	assert.Equal(t, a.Entries, got.Entries)
	for n := range len(rec) {
		_, err := decodeAppended(rec[:n])
		assert.Error(t, err, "truncated to %d bytes", n)
	}
	_, err = decodeAppended(append(rec, 0))
	assert.Error(t, err, "trailing bytes")
}

// New entries go to small appended records; reading the sessions at the
// next start finds them in their sessions and folds them into the
// records, and entries of an ended session, or of an earlier session
// under the same key, stay out.
func TestAppendedEntriesAreReadBackAndFoldedAtOpen(t *testing.T) {
	s, dir := openTemp(t)
	h := sessiontracker.NewHasher(s.Secret())
	k1, k2, k3 := h.Key("one"), h.Key("two"), h.Key("three")
	_, err := s.Commit(Batch{Sessions: []sessiontracker.Snapshot{
		{Key: k1, Started: tA, LastSeen: tA, User: "alice", Entries: []sessiontracker.Entry{{ID: idA, User: "alice"}}},
		{Key: k2, Started: tA, LastSeen: tA, User: "bob", Entries: []sessiontracker.Entry{{ID: idA, User: "bob"}}},
		{Key: k3, Started: tA, LastSeen: tA, User: "carol"},
	}})
	require.NoError(t, err)
	_, err = s.Commit(Batch{Appended: []sessiontracker.Appended{
		{Key: k1, Started: tA, Entries: []sessiontracker.Entry{{ID: idB, User: "alice"}}},
		{Key: k2, Started: tA, Entries: []sessiontracker.Entry{{ID: idB, User: "bob"}}},
		{Key: k3, Started: tA, Entries: []sessiontracker.Entry{{ID: idB, User: "carol"}}},
	}})
	require.NoError(t, err)
	// k1 gains another; k2 ends; k3 ends and a new session takes its key.
	_, err = s.Commit(Batch{
		Appended: []sessiontracker.Appended{{Key: k1, Started: tA, Entries: []sessiontracker.Entry{{ID: idC, User: "alice"}}}},
		Deleted:  []sessiontracker.Key{k2, k3},
	})
	require.NoError(t, err)
	_, err = s.Commit(Batch{Sessions: []sessiontracker.Snapshot{
		{Key: k3, Started: tA.Add(time.Hour), LastSeen: tA.Add(time.Hour), User: "dave"},
	}})
	require.NoError(t, err)
	assert.Equal(t, 4, appendedRecords(t, s))
	require.NoError(t, s.Close())

	s, err = OpenBolt(dir, time.Second)
	require.NoError(t, err)
	defer s.Close()
	got := loadSessions(t, s)
	require.Len(t, got, 2)
	assert.Equal(t, []sessiontracker.Entry{{ID: idA, User: "alice"}, {ID: idB, User: "alice"}, {ID: idC, User: "alice"}},
		got[k1].Entries)
	assert.Empty(t, got[k3].Entries, "the earlier session's entries under the same key stay out")
	assert.Equal(t, "dave", got[k3].User)
	assert.Zero(t, appendedRecords(t, s), "folded into the records")
	assert.Equal(t, got, loadSessions(t, s), "the records alone hold the same")
}

// A fold batch writes the sessions with appended entries whole and drops
// every appended record in the same commit; entries appended in that
// batch itself are kept.
func TestFoldDropsAppendedRecordsWrittenBefore(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	h := sessiontracker.NewHasher(s.Secret())
	k1, k2 := h.Key("one"), h.Key("two")
	whole := func(k sessiontracker.Key, ids ...string) sessiontracker.Snapshot {
		snap := sessiontracker.Snapshot{Key: k, Started: tA, LastSeen: tA, User: "alice"}
		for _, id := range ids {
			snap.Entries = append(snap.Entries, sessiontracker.Entry{ID: id, User: "alice"})
		}
		return snap
	}
	_, err := s.Commit(Batch{Sessions: []sessiontracker.Snapshot{whole(k1, idA), whole(k2, idA)}})
	require.NoError(t, err)
	_, err = s.Commit(Batch{Appended: []sessiontracker.Appended{{Key: k1, Started: tA, Entries: []sessiontracker.Entry{{ID: idB, User: "alice"}}}}})
	require.NoError(t, err)
	_, err = s.Commit(Batch{
		Fold:     true,
		Sessions: []sessiontracker.Snapshot{whole(k1, idA, idB)},
		Appended: []sessiontracker.Appended{{Key: k2, Started: tA, Entries: []sessiontracker.Entry{{ID: idC, User: "alice"}}}},
	})
	require.NoError(t, err)
	assert.Equal(t, 1, appendedRecords(t, s), "only the fold batch's own appended record is left")
	got := loadSessions(t, s)
	assert.Equal(t, whole(k1, idA, idB).Entries, got[k1].Entries)
	assert.Equal(t, whole(k2, idA, idC).Entries, got[k2].Entries)
}

// A batch retried after a failed write merges with the next: a later
// whole record or deletion of a session supersedes the entries appended
// to it before, later appended entries stay, and a fold stays a fold.
func TestMergeOfAppendedEntries(t *testing.T) {
	k1, k2, k3 := sessiontracker.Key{1}, sessiontracker.Key{2}, sessiontracker.Key{3}
	app := func(k sessiontracker.Key, id string) sessiontracker.Appended {
		return sessiontracker.Appended{Key: k, Started: tA, Entries: []sessiontracker.Entry{{ID: id}}}
	}
	b := Batch{Appended: []sessiontracker.Appended{app(k1, idA), app(k2, idA), app(k3, idA)}, Fold: true}
	b.Merge(Batch{
		Sessions: []sessiontracker.Snapshot{{Key: k1, Started: tA}},
		Deleted:  []sessiontracker.Key{k2},
		Appended: []sessiontracker.Appended{app(k1, idB)},
	})
	assert.Equal(t, []sessiontracker.Appended{app(k3, idA), app(k1, idB)}, b.Appended)
	assert.True(t, b.Fold)
	assert.False(t, b.Empty())
	assert.False(t, (&Batch{Fold: true}).Empty(), "a fold alone is a write")
}

// A fold needs no whole record from the tracker to keep a session's
// appended entries: a session that ended in memory but whose end is not
// written yet keeps its record, and the fold puts its entries into it,
// so a crash before its end is written loses none of them.
func TestFoldKeepsEntriesOfSessionsNotWrittenWhole(t *testing.T) {
	s, dir := openTemp(t)
	h := sessiontracker.NewHasher(s.Secret())
	k1, k2 := h.Key("one"), h.Key("two")
	_, err := s.Commit(Batch{Sessions: []sessiontracker.Snapshot{
		{Key: k1, Started: tA, LastSeen: tA, User: "alice", Entries: []sessiontracker.Entry{{ID: idA, User: "alice"}}},
		{Key: k2, Started: tA, LastSeen: tA, User: "bob"},
	}})
	require.NoError(t, err)
	_, err = s.Commit(Batch{Appended: []sessiontracker.Appended{
		{Key: k1, Started: tA, Entries: []sessiontracker.Entry{{ID: idB, User: "alice"}, {ID: idA, User: "alice"}}},
		{Key: k2, Started: tA, Entries: []sessiontracker.Entry{{ID: idC, User: "bob"}}},
	}})
	require.NoError(t, err)
	_, err = s.Commit(Batch{Fold: true, Sessions: []sessiontracker.Snapshot{
		{Key: k2, Started: tA, LastSeen: tA, User: "bob", Entries: []sessiontracker.Entry{{ID: idC, User: "bob"}}},
	}})
	require.NoError(t, err)
	assert.Zero(t, appendedRecords(t, s))
	require.NoError(t, s.Close())

	s, err = OpenBolt(dir, time.Second)
	require.NoError(t, err)
	defer s.Close()
	got := loadSessions(t, s)
	assert.Equal(t, []sessiontracker.Entry{{ID: idA, User: "alice"}, {ID: idB, User: "alice"}}, got[k1].Entries,
		"folded into the stored record, each ID once")
	assert.Equal(t, []sessiontracker.Entry{{ID: idC, User: "bob"}}, got[k2].Entries)
}

// The end of a session deletes its record only while the key still
// holds that session: a later session under the same cookie value, whose
// record was written first, stays.
func TestEndDeletesOnlyTheEndedSessionsRecord(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	h := sessiontracker.NewHasher(s.Secret())
	k1, k2 := h.Key("one"), h.Key("two")
	later := tA.Add(time.Minute)
	_, err := s.Commit(Batch{Sessions: []sessiontracker.Snapshot{
		{Key: k1, Started: later, LastSeen: later, User: "alice"},
		{Key: k2, Started: tA, LastSeen: tA, User: "bob"},
	}})
	require.NoError(t, err)
	_, err = s.Commit(Batch{Ended: []EndedSession{{Key: k1, Started: tA}, {Key: k2, Started: tA}}})
	require.NoError(t, err)
	got := loadSessions(t, s)
	require.Len(t, got, 1)
	assert.Equal(t, "alice", got[k1].User, "the later session under k1 stays")
}

// Merging a later end into a retried batch drops what the batch holds of
// that session, and nothing of a later session under the same key.
func TestMergeOfAnEndKeepsALaterSessionUnderTheSameKey(t *testing.T) {
	k1 := sessiontracker.Key{1}
	later := tA.Add(time.Minute)
	b := Batch{
		Sessions: []sessiontracker.Snapshot{{Key: k1, Started: later, User: "second"}},
		Appended: []sessiontracker.Appended{
			{Key: k1, Started: tA, Entries: []sessiontracker.Entry{{ID: idA}}},
			{Key: k1, Started: later, Entries: []sessiontracker.Entry{{ID: idB}}},
		},
	}
	b.Merge(Batch{Ended: []EndedSession{{Key: k1, Started: tA}}})
	require.Len(t, b.Sessions, 1)
	assert.Equal(t, "second", b.Sessions[0].User)
	assert.Equal(t, []sessiontracker.Appended{{Key: k1, Started: later, Entries: []sessiontracker.Entry{{ID: idB}}}}, b.Appended)
	assert.Equal(t, []EndedSession{{Key: k1, Started: tA}}, b.Ended)

	b.Merge(Batch{Ended: []EndedSession{{Key: k1, Started: later}}})
	assert.Empty(t, b.Sessions)
	assert.Empty(t, b.Appended)
}

// A damaged appended record is skipped: it must not stop the start, nor
// every later write (a fold that failed would be retried for ever).
func TestDamagedAppendedRecordIsSkipped(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	h := sessiontracker.NewHasher(s.Secret())
	k1 := h.Key("one")
	_, err := s.Commit(Batch{
		Sessions: []sessiontracker.Snapshot{{Key: k1, Started: tA, LastSeen: tA, User: "alice"}},
	})
	require.NoError(t, err)
	_, err = s.Commit(Batch{Appended: []sessiontracker.Appended{{Key: k1, Started: tA, Entries: []sessiontracker.Entry{{ID: idA, User: "alice"}}}}})
	require.NoError(t, err)
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAppended).Put([]byte{0xff}, []byte{appendedFormat, 1, 2})
	}))
	_, err = s.Commit(Batch{Fold: true})
	require.NoError(t, err)
	assert.Zero(t, appendedRecords(t, s))
	got := loadSessions(t, s)
	assert.Equal(t, []sessiontracker.Entry{{ID: idA, User: "alice"}}, got[k1].Entries, "the readable record is folded")
}

// The end of a fold pass drops the appended records up to the sequence
// the pass noted as it began; later records stay, also across a full
// fold (which keeps the sequence going), and a restart reads them.
func TestDropAppendedThroughKeepsLaterRecords(t *testing.T) {
	s, dir := openTemp(t)
	h := sessiontracker.NewHasher(s.Secret())
	k1, k2 := h.Key("one"), h.Key("two")
	_, err := s.Commit(Batch{Sessions: []sessiontracker.Snapshot{
		{Key: k1, Started: tA, LastSeen: tA, User: "alice", Entries: []sessiontracker.Entry{{ID: idA, User: "alice"}}},
		{Key: k2, Started: tA, LastSeen: tA, User: "bob", Entries: []sessiontracker.Entry{{ID: idA, User: "bob"}}},
	}})
	require.NoError(t, err)
	appendTo := func(k sessiontracker.Key, user, id string) {
		t.Helper()
		_, err := s.Commit(Batch{Appended: []sessiontracker.Appended{{Key: k, Started: tA, Entries: []sessiontracker.Entry{{ID: id, User: user}}}}})
		require.NoError(t, err)
	}
	appendTo(k1, "alice", idB)
	appendTo(k2, "bob", idB)
	noted, err := s.AppendedSequence()
	require.NoError(t, err)
	require.Equal(t, uint64(2), noted)
	appendTo(k2, "bob", idC) // after the pass began

	// The pass's last slice: k1 whole (k2 was written whole by an earlier one).
	_, err = s.Commit(Batch{DropAppendedThrough: noted, Sessions: []sessiontracker.Snapshot{
		{Key: k1, Started: tA, LastSeen: tA, User: "alice", Entries: []sessiontracker.Entry{{ID: idA, User: "alice"}, {ID: idB, User: "alice"}}},
		{Key: k2, Started: tA, LastSeen: tA, User: "bob", Entries: []sessiontracker.Entry{{ID: idA, User: "bob"}, {ID: idB, User: "bob"}}},
	}})
	require.NoError(t, err)
	assert.Equal(t, 1, appendedRecords(t, s), "the record written after the pass began stays")

	// A full fold empties the bucket but keeps the sequence going.
	_, err = s.Commit(Batch{Fold: true})
	require.NoError(t, err)
	appendTo(k1, "alice", idC)
	seq, err := s.AppendedSequence()
	require.NoError(t, err)
	assert.Equal(t, noted+2, seq)
	_, err = s.Commit(Batch{DropAppendedThrough: noted})
	require.NoError(t, err)
	assert.Equal(t, 1, appendedRecords(t, s), "a record after a full fold is not taken for an old one")
	require.NoError(t, s.Close())

	s, err = OpenBolt(dir, time.Second)
	require.NoError(t, err)
	defer s.Close()
	got := loadSessions(t, s)
	assert.Equal(t, []sessiontracker.Entry{{ID: idA, User: "alice"}, {ID: idB, User: "alice"}, {ID: idC, User: "alice"}}, got[k1].Entries)
	assert.Equal(t, []sessiontracker.Entry{{ID: idA, User: "bob"}, {ID: idB, User: "bob"}, {ID: idC, User: "bob"}}, got[k2].Entries)
}

// Dropping the oldest records works the same whether it deletes them
// one by one (few go) or empties the bucket and puts the rest back (most
// go): the later records stay whole and the sequence goes on.
func TestDropAppendedThroughFewOrMost(t *testing.T) {
	s, dir := openTemp(t)
	h := sessiontracker.NewHasher(s.Secret())
	k := h.Key("one")
	_, err := s.Commit(Batch{Sessions: []sessiontracker.Snapshot{{Key: k, Started: tA, LastSeen: tA, User: "alice"}}})
	require.NoError(t, err)
	id := func(n int) string { return "webform@@@DropWAC/form_drop(1)_app@@@" + strconv.Itoa(n) + ".xml" }
	for n := 1; n <= 5; n++ {
		_, err := s.Commit(Batch{Appended: []sessiontracker.Appended{{Key: k, Started: tA,
			Entries: []sessiontracker.Entry{{ID: id(n), User: "alice"}}}}})
		require.NoError(t, err)
	}
	_, err = s.Commit(Batch{DropAppendedThrough: 1}) // one of five: deleted by key
	require.NoError(t, err)
	assert.Equal(t, 4, appendedRecords(t, s))
	_, err = s.Commit(Batch{DropAppendedThrough: 4}) // three of four: the bucket is rebuilt
	require.NoError(t, err)
	assert.Equal(t, 1, appendedRecords(t, s))
	_, err = s.Commit(Batch{Appended: []sessiontracker.Appended{{Key: k, Started: tA,
		Entries: []sessiontracker.Entry{{ID: id(6), User: "alice"}}}}})
	require.NoError(t, err)
	seq, err := s.AppendedSequence()
	require.NoError(t, err)
	assert.Equal(t, uint64(6), seq)
	require.NoError(t, s.Close())

	s, err = OpenBolt(dir, time.Second)
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, []sessiontracker.Entry{{ID: id(5), User: "alice"}, {ID: id(6), User: "alice"}}, loadSessions(t, s)[k].Entries,
		"the records after each drop, and only those, reach the session")
}
