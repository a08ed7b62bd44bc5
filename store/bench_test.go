package store

import (
	"strconv"
	"testing"
	"time"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// BenchmarkCommitChangedSessions writes 50 changed sessions of 10,000,
// each holding 30 entry IDs, whole: what the persist worker writes every
// 10 ms on a site where each request opens a form, when a session gains
// a user. Per op: one synced write of the 50.
func BenchmarkCommitChangedSessions(b *testing.B) {
	benchmarkCommit(b, false)
}

// BenchmarkCommitAppendedEntries writes what the persist worker writes
// for the same 50 sessions when each just gained one entry ID: 50
// appended records. Per op: one synced write of the 50.
func BenchmarkCommitAppendedEntries(b *testing.B) {
	benchmarkCommit(b, true)
}

func benchmarkCommit(b *testing.B, appended bool) {
	s, err := OpenBolt(b.TempDir(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := sessiontracker.NewHasher(s.Secret())
	const sessions, perCommit, ids = 10_000, 50, 30
	snaps := make([]sessiontracker.Snapshot, sessions)
	t0 := time.Now()
	for i := range snaps {
		snaps[i] = sessiontracker.Snapshot{Key: h.Key("s" + strconv.Itoa(i)), Started: t0, LastSeen: t0, User: "u" + strconv.Itoa(i%100)}
		for j := range ids {
			snaps[i].Entries = append(snaps[i].Entries, sessiontracker.Entry{
				ID: "webform@@@Bench/form_orders(1)_app@@@" + strconv.Itoa(i*ids+j) + ".xml", User: snaps[i].User})
		}
	}
	for i := 0; i < sessions; i += 500 {
		if _, err := s.Commit(Batch{Sessions: snaps[i : i+500]}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	next := 0
	for b.Loop() {
		var batch Batch
		for range perCommit {
			snap := snaps[(next*7919)%sessions] // scattered, as browsers are
			next++
			if appended {
				batch.Appended = append(batch.Appended, sessiontracker.Appended{Key: snap.Key, Started: snap.Started,
					Entries: []sessiontracker.Entry{{ID: "webform@@@Bench/form_orders(1)_app@@@" + strconv.Itoa(next) + ".xml", User: snap.User}}})
			} else {
				batch.Sessions = append(batch.Sessions, snap)
			}
		}
		if _, err := s.Commit(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFoldAll and BenchmarkFoldSlice compare the two ways appended
// entries go back into their records, on 10,000 stored sessions of 30
// entries each, 2,000 of which gained 25 entries in as many appended
// records (50,000 records, when the persist worker starts a pass).
// FoldAll writes all 2,000 whole and empties the bucket in one commit
// (what a stop does); FoldSlice writes 650 of them whole (about 20,000
// entries, the persist worker's slice) and drops all 50,000 records, as
// the last slice of a pass does. Per op: that one commit; the store is
// rebuilt before each.
func BenchmarkFoldAll(b *testing.B) { benchmarkFold(b, false) }

// BenchmarkFoldSlice: see BenchmarkFoldAll.
func BenchmarkFoldSlice(b *testing.B) { benchmarkFold(b, true) }

func benchmarkFold(b *testing.B, slice bool) {
	const sessions, ids, grown, added, sliceSessions = 10_000, 30, 2_000, 25, 650
	id := func(n int) string { return "webform@@@Bench/form_orders(1)_app@@@" + strconv.Itoa(n) + ".xml" }
	t0 := time.Now()
	setup := func() (*Bolt, []sessiontracker.Snapshot) {
		s, err := OpenBolt(b.TempDir(), time.Second)
		if err != nil {
			b.Fatal(err)
		}
		h := sessiontracker.NewHasher(s.Secret())
		snaps := make([]sessiontracker.Snapshot, sessions)
		for i := range snaps {
			snaps[i] = sessiontracker.Snapshot{Key: h.Key("s" + strconv.Itoa(i)), Started: t0, LastSeen: t0, User: "u" + strconv.Itoa(i%100)}
			for j := range ids {
				snaps[i].Entries = append(snaps[i].Entries, sessiontracker.Entry{ID: id(i*ids + j), User: snaps[i].User})
			}
		}
		for i := 0; i < sessions; i += 500 {
			if _, err := s.Commit(Batch{Sessions: snaps[i : i+500]}); err != nil {
				b.Fatal(err)
			}
		}
		for round := range added {
			var batch Batch
			for i := range grown {
				e := sessiontracker.Entry{ID: id(sessions*ids + round*grown + i), User: snaps[i].User}
				snaps[i].Entries = append(snaps[i].Entries, e)
				batch.Appended = append(batch.Appended, sessiontracker.Appended{Key: snaps[i].Key, Started: t0,
					Entries: []sessiontracker.Entry{e}})
			}
			if _, err := s.Commit(batch); err != nil {
				b.Fatal(err)
			}
		}
		return s, snaps[:grown]
	}
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		s, whole := setup()
		batch := Batch{Sessions: whole, Fold: true}
		if slice {
			seq, err := s.AppendedSequence()
			if err != nil {
				b.Fatal(err)
			}
			batch = Batch{Sessions: whole[:sliceSessions], DropAppendedThrough: seq}
		}
		b.StartTimer()
		if _, err := s.Commit(batch); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}
