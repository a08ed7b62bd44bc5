// Package store keeps what must survive a restart of Caddy: the live
// browser sessions with the entry IDs they collected, the clears not yet
// acknowledged by INUBIT, entries parked after INUBIT refused them, and
// the secret that turns session-cookie values into keys.
//
// Bolt is the one implementation today; the Store interface is what the
// handler uses, so a networked backend can be added beside it.
package store

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// Store is the durable state of one handler storage. Implementations are
// safe for concurrent use.
type Store interface {
	// Secret returns the key for hashing session-cookie values, created
	// on first use and stable afterwards.
	Secret() []byte

	// Commit applies a group of writes atomically and durably: session
	// upserts, appended entries and deletions, and entry IDs queued for
	// clearing. It returns how many IDs per user were newly queued (not
	// already pending).
	Commit(b Batch) (map[string]int, error)

	// Sessions calls fn for every stored live session, with its
	// appended entries. Records it cannot read are passed over and
	// reported at the end with a *DamagedError.
	Sessions(fn func(sessiontracker.Snapshot) error) error
	// AppendedSequence returns the sequence number of the last appended
	// record written; later records get higher ones.
	AppendedSequence() (uint64, error)

	// PendingCounts returns the number of queued IDs per user.
	PendingCounts() (map[string]int, error)
	// PendingSince returns, per user, when the oldest of its queued IDs
	// was queued.
	PendingSince() (map[string]time.Time, error)
	// Peek returns up to n queued IDs of user, in key order.
	Peek(user string, n int) ([]string, error)
	// Remove drops acknowledged IDs of user.
	Remove(user string, ids []string) error

	// Park moves one queued ID of user aside, with the reason INUBIT
	// refused it; parked IDs are kept but not retried.
	Park(user, id string, reason string) error
	// Parked lists parked IDs.
	Parked() ([]ParkedEntry, error)
	// Release queues a parked ID again and reports whether that added
	// it to the queue (false: the ID was queued anew meanwhile, and keeps
	// its place). It fails with ErrNotParked when user has no such
	// parked ID.
	Release(user, id string) (queued bool, err error)

	// Orphans returns IDs that were queued without a user.
	Orphans() ([]string, error)
	// AdoptOrphans queues every ID kept without a user for user and
	// returns how many were newly queued for it.
	AdoptOrphans(user string) (int, error)

	// Close releases the store.
	Close() error
}

// DamagedError is the error of Sessions when it passed over session
// records it could not read (after calling fn for every other one):
// those sessions cannot be restored. Entries appended to them were
// queued for clearing at the fold.
type DamagedError struct {
	// Keys of the unreadable records.
	Keys []sessiontracker.Key
	// Err is why the first of them could not be read.
	Err error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("%d stored session records cannot be read (first: %v)", len(e.Keys), e.Err)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// ErrNotParked is the error of Release for an ID that is not parked.
var ErrNotParked = errors.New("no such parked entry")

// Batch is one group of writes.
type Batch struct {
	// Sessions to insert or replace.
	Sessions []sessiontracker.Snapshot
	// Appended entries of sessions whose record was written before,
	// written after Sessions.
	Appended []sessiontracker.Appended
	// Deleted sessions (moved to another key), removed before Sessions
	// are written.
	Deleted []sessiontracker.Key
	// Ended sessions, removed with Deleted: each only while its key still
	// holds that session, not a later one under the same key. A session
	// the batch both writes (Sessions, Appended) and ends is ended: it
	// ended after its changes were taken.
	Ended []EndedSession
	// Fold folds every appended entry written before this batch into
	// its session's record and drops the appended records. Sessions
	// holding the sessions with appended entries whole (sessiontracker's
	// TakeChanges with fold) spares reading their records.
	Fold bool
	// DropAppendedThrough, unless zero, drops the appended records with
	// sequence numbers up to it (see AppendedSequence). It ends a fold
	// pass: the pass noted the sequence as it began, then wrote whole, a
	// slice per batch, every session that had appended records then, so
	// that those records now hold nothing the session records lack
	// (records of ended sessions hold what their ends queued).
	DropAppendedThrough uint64
	// Pending IDs to queue per user; the empty user holds orphans.
	Pending map[string][]string
}

// Empty reports whether the batch writes nothing.
func (b *Batch) Empty() bool {
	return len(b.Sessions) == 0 && len(b.Appended) == 0 && len(b.Deleted) == 0 && len(b.Ended) == 0 &&
		!b.Fold && b.DropAppendedThrough == 0 && len(b.Pending) == 0
}

// EndedSession is a session that ended, told from a later session under
// the same key by its start.
type EndedSession struct {
	Key     sessiontracker.Key
	Started time.Time
}

// endedKey is an EndedSession as a map key.
type endedKey struct {
	key     sessiontracker.Key
	started int64 // Unix nanoseconds, as stored
}

// ParkedEntry is one ID INUBIT kept refusing.
type ParkedEntry struct {
	// User the entry is cleared for.
	User string `json:"user"`
	// ID of the entry.
	ID string `json:"id"`
	// Reason is INUBIT's status with a short excerpt of its answer.
	Reason string `json:"reason"`
	// Since is when the entry was parked.
	Since time.Time `json:"since"`
}

// endedSet holds ended sessions, each told by its key and start.
type endedSet map[endedKey]bool

func newEndedSet(ends []EndedSession) endedSet {
	set := make(endedSet, len(ends))
	for _, e := range ends {
		set[endedKey{e.Key, e.Started.UnixNano()}] = true
	}
	return set
}

// has reports whether the session of k that started at started ended.
func (s endedSet) has(k sessiontracker.Key, started time.Time) bool {
	return s[endedKey{k, started.UnixNano()}]
}

// withoutEnded returns b without the records and appended entries of
// sessions it also ends. b's slices are not changed: a failed write's
// batch is kept and retried as it was.
func (b Batch) withoutEnded() Batch {
	if len(b.Ended) == 0 {
		return b
	}
	ended := newEndedSet(b.Ended)
	endedSession := func(s sessiontracker.Snapshot) bool { return ended.has(s.Key, s.Started) }
	endedAppended := func(a sessiontracker.Appended) bool { return ended.has(a.Key, a.Started) }
	if slices.ContainsFunc(b.Sessions, endedSession) {
		b.Sessions = slices.DeleteFunc(slices.Clone(b.Sessions), endedSession)
	}
	if slices.ContainsFunc(b.Appended, endedAppended) {
		b.Appended = slices.DeleteFunc(slices.Clone(b.Appended), endedAppended)
	}
	return b
}

// Merge adds a later batch to b, as if b were written first and later
// after it, without keeping outdated copies: a session deleted later
// leaves b's Sessions and Appended, and a later snapshot replaces b's
// and the entries b appends to it. A batch that
// is retried after failed writes therefore stays as large as the state
// it carries, not the number of changes.
func (b *Batch) Merge(later Batch) {
	b.Fold = b.Fold || later.Fold
	b.DropAppendedThrough = max(b.DropAppendedThrough, later.DropAppendedThrough)
	gone := make(map[sessiontracker.Key]bool, len(later.Deleted))
	for _, k := range later.Deleted {
		gone[k] = true
	}
	newer := make(map[sessiontracker.Key]int, len(later.Sessions))
	for i, s := range later.Sessions {
		newer[s.Key] = i
	}
	ended := newEndedSet(later.Ended)
	// A later whole record holds b's appended entries of its session; a
	// later deletion or end of the session drops them.
	keptAppended := b.Appended[:0]
	for _, a := range b.Appended {
		if _, rewritten := newer[a.Key]; !rewritten && !gone[a.Key] && !ended.has(a.Key, a.Started) {
			keptAppended = append(keptAppended, a)
		}
	}
	b.Appended = append(keptAppended, later.Appended...)

	kept := b.Sessions[:0]
	for _, s := range b.Sessions {
		if i, ok := newer[s.Key]; ok {
			kept = append(kept, later.Sessions[i])
			delete(newer, s.Key)
		} else if !gone[s.Key] && !ended.has(s.Key, s.Started) {
			kept = append(kept, s)
		}
	}
	for _, s := range later.Sessions {
		if _, ok := newer[s.Key]; ok {
			kept = append(kept, s)
		}
	}
	b.Sessions = kept
	for _, k := range b.Deleted {
		delete(gone, k)
	}
	for _, k := range later.Deleted {
		if gone[k] {
			b.Deleted = append(b.Deleted, k)
			delete(gone, k)
		}
	}
	b.Ended = append(b.Ended, later.Ended...)
	for user, ids := range later.Pending {
		if b.Pending == nil {
			b.Pending = make(map[string][]string)
		}
		b.Pending[user] = append(b.Pending[user], ids...)
	}
}
