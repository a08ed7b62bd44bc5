package store

import (
	bolt "go.etcd.io/bbolt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

const (
	idA = "webform@@@OrderWAC/form_orderentry(2)_orderapp@@@10020.xml"
	idB = "webform@@@OrderWAC/form_orderentry(3)_orderapp@@@10021.xml"
)

func openTemp(t *testing.T) (*Bolt, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := OpenBolt(dir, time.Second)
	require.NoError(t, err)
	return s, dir
}

func TestSecretIsCreatedOnceAndPrivate(t *testing.T) {
	s, dir := openTemp(t)
	secret := s.Secret()
	require.Len(t, secret, 32)
	require.NoError(t, s.Close())

	info, err := os.Stat(filepath.Join(dir, FileName))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	again, err := OpenBolt(dir, time.Second)
	require.NoError(t, err)
	defer again.Close()
	assert.Equal(t, secret, again.Secret(), "the same secret after a restart")
}

func TestSecondOpenFailsFast(t *testing.T) {
	s, dir := openTemp(t)
	defer s.Close()
	start := time.Now()
	_, err := OpenBolt(dir, 100*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another process holds it")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestSessionsSurviveReopen(t *testing.T) {
	s, dir := openTemp(t)
	h := sessiontracker.NewHasher(s.Secret())
	k1, k2 := h.Key("one"), h.Key("two")
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	_, err := s.Commit(Batch{Sessions: []sessiontracker.Snapshot{
		{Key: k1, Started: t0, LastSeen: t0, User: "alice", Entries: []sessiontracker.Entry{{ID: idA, User: "alice"}}},
		{Key: k2, Started: t0, LastSeen: t0},
	}})
	require.NoError(t, err)
	_, err = s.Commit(Batch{Deleted: []sessiontracker.Key{k2}})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = OpenBolt(dir, time.Second)
	require.NoError(t, err)
	defer s.Close()
	var got []sessiontracker.Snapshot
	require.NoError(t, s.Sessions(func(snap sessiontracker.Snapshot) error {
		got = append(got, snap)
		return nil
	}))
	require.Len(t, got, 1)
	assert.Equal(t, k1, got[0].Key)
	assert.True(t, t0.Equal(got[0].Started))
	assert.Equal(t, "alice", got[0].User)
	assert.Equal(t, []sessiontracker.Entry{{ID: idA, User: "alice"}}, got[0].Entries)
}

func TestPendingQueue(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	added, err := s.Commit(Batch{Pending: map[string][]string{"alice": {idA, idB}, "bob": {idA}, "": {idB}}})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"alice": 2, "bob": 1, "": 1}, added)

	added, err = s.Commit(Batch{Pending: map[string][]string{"alice": {idA}}})
	require.NoError(t, err)
	assert.Empty(t, added, "an ID already pending is not queued twice")

	counts, err := s.PendingCounts()
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"alice": 2, "bob": 1, "": 1}, counts)

	batch, err := s.Peek("alice", 1)
	require.NoError(t, err)
	assert.Equal(t, []string{idA}, batch)
	require.NoError(t, s.Remove("alice", batch))
	batch, err = s.Peek("alice", 10)
	require.NoError(t, err)
	assert.Equal(t, []string{idB}, batch)

	orphans, err := s.Orphans()
	require.NoError(t, err)
	assert.Equal(t, []string{idB}, orphans)
}

func TestParkAndRelease(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	_, err := s.Commit(Batch{Pending: map[string][]string{"alice": {idA, idB}}})
	require.NoError(t, err)
	require.NoError(t, s.Park("alice", idA, "404 Not Found"))

	batch, err := s.Peek("alice", 10)
	require.NoError(t, err)
	assert.Equal(t, []string{idB}, batch, "a parked ID is not sent")
	parked, err := s.Parked()
	require.NoError(t, err)
	require.Len(t, parked, 1)
	assert.Equal(t, "alice", parked[0].User)
	assert.Equal(t, idA, parked[0].ID)
	assert.Equal(t, "404 Not Found", parked[0].Reason)

	queued, err := s.Release("alice", idA)
	require.NoError(t, err)
	assert.True(t, queued)
	batch, err = s.Peek("alice", 10)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{idA, idB}, batch)
	_, err = s.Release("alice", idA)
	assert.ErrorIs(t, err, ErrNotParked, "nothing parked any more")
}

// An ID queued again by a later session while it was parked is pending
// once: its release adds nothing and keeps its queue time.
func TestReleaseOfAnIDQueuedAgain(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	_, err := s.Commit(Batch{Pending: map[string][]string{"alice": {idA}}})
	require.NoError(t, err)
	require.NoError(t, s.Park("alice", idA, "404 Not Found"))
	added, err := s.Commit(Batch{Pending: map[string][]string{"alice": {idA}}})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"alice": 1}, added, "a parked ID can be queued again")
	since, err := s.PendingSince()
	require.NoError(t, err)

	queued, err := s.Release("alice", idA)
	require.NoError(t, err)
	assert.False(t, queued, "already pending")
	counts, err := s.PendingCounts()
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"alice": 1}, counts)
	after, err := s.PendingSince()
	require.NoError(t, err)
	assert.Equal(t, since, after, "the queue time of the pending ID stays")
	parked, err := s.Parked()
	require.NoError(t, err)
	assert.Empty(t, parked)
}

// PendingSince gives per user the queue time of its oldest pending ID,
// and drops users whose queue emptied.
func TestPendingSince(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	before := time.Now()
	_, err := s.Commit(Batch{Pending: map[string][]string{"alice": {idA}}})
	require.NoError(t, err)
	between := time.Now()
	time.Sleep(2 * time.Millisecond) // stamps are wall-clock nanoseconds
	_, err = s.Commit(Batch{Pending: map[string][]string{"alice": {idB}, "bob": {idA}}})
	require.NoError(t, err)

	since, err := s.PendingSince()
	require.NoError(t, err)
	require.Len(t, since, 2)
	assert.False(t, since["alice"].Before(before))
	assert.False(t, since["alice"].After(between), "alice's oldest is her first ID")
	assert.True(t, since["bob"].After(between))

	require.NoError(t, s.Remove("bob", []string{idA}))
	since, err = s.PendingSince()
	require.NoError(t, err)
	assert.NotContains(t, since, "bob")
}

func TestAdoptOrphans(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	_, err := s.Commit(Batch{Pending: map[string][]string{"": {idA, idB}, "svc": {idA}}})
	require.NoError(t, err)
	n, err := s.AdoptOrphans("svc")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "idA was already queued for svc")
	orphans, err := s.Orphans()
	require.NoError(t, err)
	assert.Empty(t, orphans)
	ids, err := s.Peek("svc", 10)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{idA, idB}, ids)
}

// Regression (memory growth while the disk is full): a batch retried
// after failed writes gained a copy of every changed session on every
// try, and a session that ended meanwhile was written back after its
// deletion.
func TestMergeKeepsOneCopyPerSessionAndHonoursLaterDeletes(t *testing.T) {
	h := sessiontracker.NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	a, b, c := h.Key("a"), h.Key("b"), h.Key("c")
	snap := func(k sessiontracker.Key, user string) sessiontracker.Snapshot {
		return sessiontracker.Snapshot{Key: k, User: user}
	}
	carry := Batch{Sessions: []sessiontracker.Snapshot{snap(a, "a1"), snap(b, "b1")}}
	for i := 0; i < 100; i++ {
		carry.Merge(Batch{Sessions: []sessiontracker.Snapshot{snap(a, "a2")}})
	}
	carry.Merge(Batch{Deleted: []sessiontracker.Key{b}, Pending: map[string][]string{"anna": {"x"}}})
	carry.Merge(Batch{Sessions: []sessiontracker.Snapshot{snap(c, "c1")}, Pending: map[string][]string{"anna": {"y"}}})

	assert.Equal(t, []sessiontracker.Snapshot{snap(a, "a2"), snap(c, "c1")}, carry.Sessions,
		"one copy each, the latest; the ended session is not written back")
	assert.Equal(t, []sessiontracker.Key{b}, carry.Deleted)
	assert.Equal(t, map[string][]string{"anna": {"x", "y"}}, carry.Pending)
}

// A session can end after its record was taken for a write and before
// its end was: the batch then both writes and ends it. It stays ended
// (the record is not written back after the end deleted it), a later
// session under the same key is written, and the batch, kept by a
// caller for a retry, is left as it was.
func TestBatchThatWritesAndEndsASessionEndsIt(t *testing.T) {
	s, dir := openTemp(t)
	h := sessiontracker.NewHasher(s.Secret())
	k, other := h.Key("k"), h.Key("other")
	snap := sessiontracker.Snapshot{Key: k, Started: time.Unix(1000, 0), LastSeen: time.Unix(1000, 0), User: "alice",
		Entries: []sessiontracker.Entry{{ID: "webform@@@W/form_a(1)_app@@@1.xml", User: "alice"}}}
	_, err := s.Commit(Batch{Sessions: []sessiontracker.Snapshot{snap}})
	require.NoError(t, err)
	later := sessiontracker.Snapshot{Key: other, Started: time.Unix(2000, 0), LastSeen: time.Unix(2000, 0), User: "bob"}
	b := Batch{
		Sessions: []sessiontracker.Snapshot{snap, later},
		Appended: []sessiontracker.Appended{{Key: k, Started: snap.Started,
			Entries: []sessiontracker.Entry{{ID: "webform@@@W/form_a(1)_app@@@2.xml", User: "alice"}}}},
		Ended:   []EndedSession{{Key: k, Started: snap.Started}, {Key: other, Started: time.Unix(1500, 0)}},
		Pending: map[string][]string{"alice": {"webform@@@W/form_a(1)_app@@@1.xml", "webform@@@W/form_a(1)_app@@@2.xml"}},
	}
	sessions, appended := slices.Clone(b.Sessions), slices.Clone(b.Appended)
	_, err = s.Commit(b)
	require.NoError(t, err)
	assert.ElementsMatch(t, sessions, b.Sessions, "the caller's batch is not changed")
	assert.Equal(t, appended, b.Appended, "the caller's batch is not changed")
	require.NoError(t, s.Close())

	s, err = OpenBolt(dir, time.Second)
	require.NoError(t, err)
	defer s.Close()
	stored := map[sessiontracker.Key]bool{}
	require.NoError(t, s.Sessions(func(snap sessiontracker.Snapshot) error {
		stored[snap.Key] = true
		return nil
	}))
	assert.Equal(t, map[sessiontracker.Key]bool{other: true}, stored,
		"the ended session is gone; the session under another start is kept")
	pending, err := s.Peek("alice", 10)
	require.NoError(t, err)
	assert.Len(t, pending, 2)
}

// A session record that cannot be read keeps neither the other sessions
// nor the queue from loading: Sessions passes it over and reports it
// with a DamagedError, and the entries appended to it, whose session can
// never end now, are queued for clearing.
func TestDamagedSessionRecordIsPassedOver(t *testing.T) {
	s, dir := openTemp(t)
	h := sessiontracker.NewHasher(s.Secret())
	good, bad := h.Key("good"), h.Key("bad")
	started := time.Unix(1000, 0)
	_, err := s.Commit(Batch{
		Sessions: []sessiontracker.Snapshot{
			{Key: good, Started: started, LastSeen: started, User: "alice", Entries: []sessiontracker.Entry{{ID: "webform@@@W/form_g(1)_app@@@1.xml", User: "alice"}}},
			{Key: bad, Started: started, LastSeen: started, User: "bob", Entries: []sessiontracker.Entry{{ID: "webform@@@W/form_b(1)_app@@@2.xml", User: "bob"}}},
		},
		Pending: map[string][]string{"carol": {"webform@@@W/form_c(1)_app@@@3.xml"}},
	})
	require.NoError(t, err)
	_, err = s.Commit(Batch{Appended: []sessiontracker.Appended{{Key: bad, Started: started,
		Entries: []sessiontracker.Entry{{ID: "webform@@@W/form_b(2)_app@@@4.xml", User: "bob"}}}}})
	require.NoError(t, err)
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Put(bad[:], []byte{sessionFormat, 0xff}) // truncated
	}))
	require.NoError(t, s.Close())

	s, err = OpenBolt(dir, time.Second)
	require.NoError(t, err)
	defer s.Close()
	var restored []sessiontracker.Key
	err = s.Sessions(func(snap sessiontracker.Snapshot) error {
		restored = append(restored, snap.Key)
		return nil
	})
	var damaged *DamagedError
	require.ErrorAs(t, err, &damaged)
	assert.Equal(t, []sessiontracker.Key{bad}, damaged.Keys)
	assert.Equal(t, []sessiontracker.Key{good}, restored)
	queued, err := s.Peek("bob", 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"webform@@@W/form_b(2)_app@@@4.xml"}, queued, "the appended entry is queued")
	queued, err = s.Peek("carol", 10)
	require.NoError(t, err)
	assert.Len(t, queued, 1, "the queue is intact")
}
