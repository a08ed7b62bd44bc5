package sessiontracker

import "time"

// Snapshot is a copy of one live session, for the store.
type Snapshot struct {
	Key      Key
	Started  time.Time
	LastSeen time.Time
	User     string
	Entries  []Entry
}

// maxSeenResolution bounds how stale a stored last-seen time may get.
const maxSeenResolution = time.Minute

// seenResolution is how far a session's last-seen time may advance
// before the session counts as changed for the store: a quarter of the
// idle timeout, at most a minute, so that a restart shortly after
// activity never ends an active session as idle.
func (t *Tracker) seenResolution() time.Duration {
	idle := t.config().IdleTimeout
	if idle <= 0 {
		return maxSeenResolution
	}
	return min(idle/4, maxSeenResolution)
}

// change is what the store must learn of one key: a set of the flags
// below.
type change uint8

const (
	// changeAppend: the session gained entries only, which the store
	// can add to its record without rewriting it (see Appended).
	changeAppend change = 1 << iota
	// changeRecord: the session's record, written whole.
	changeRecord
	// changeMoved: the stored record under this key is of a session
	// that moved to another key (a rotation) and must go; kept when a
	// new session then takes the key, or ends under it.
	changeMoved
)

// mark notes a change of k for the next TakeChanges. New entries of a
// session whose record must be written anyway, or whose key was just
// vacated, go into that record.
func (sh *shard) mark(k Key, c change) {
	prev := sh.changed[k]
	if c == changeAppend && prev&(changeRecord|changeMoved) != 0 {
		c = changeRecord
	}
	sh.changed[k] = prev | c
}

// forget drops what the store need not learn of a session that ended
// under k (its end reaches the store through Ended), but not the
// deletion of a moved session's record under k.
func (sh *shard) forget(k Key) {
	if c := sh.changed[k] & changeMoved; c != 0 {
		sh.changed[k] = c
	} else {
		delete(sh.changed, k)
	}
}

// Appended are entries a session gained since TakeChanges last handed
// it out, for the store to add to its record: a new entry costs a small
// write of its own instead of a rewrite of the session. Started tells
// the session from a later one under the same key.
type Appended struct {
	Key     Key
	Started time.Time
	Entries []Entry
}

// Changes is what TakeChanges hands to the store.
type Changes struct {
	// Sessions to write whole: created or changed.
	Sessions []Snapshot
	// Appended entries of sessions whose record was written before.
	Appended []Appended
	// Deleted are keys that sessions moved away from by rotation.
	// Ended sessions are not included: their end is reported through
	// Ended.
	Deleted []Key
}

// TakeChanges returns what changed since the previous call. With fold
// set, every session that has had entries appended since its record was
// last written whole is written whole again, which spares the store's
// fold (see store.Batch) reading those records.
func (t *Tracker) TakeChanges(fold bool) Changes {
	t.moving.Lock()
	defer t.moving.Unlock()
	var out Changes
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		if fold {
			sh.sessions.all(func(s *session) {
				if s.appended {
					sh.changed[s.key] |= changeRecord
				}
			})
		}
		for k, c := range sh.changed {
			if c&changeMoved != 0 {
				out.Deleted = append(out.Deleted, k) // before Sessions, in the store
			}
			s := sh.sessions.get(k)
			switch {
			case s == nil: // moved, or ended since: reported through Ended
			case c&changeRecord != 0:
				s.savedSeen = s.lastSeen
				s.savedEntries, s.appended = len(s.entries), false
				out.Sessions = append(out.Sessions, Snapshot{
					Key: k, Started: s.started, LastSeen: s.lastSeen, User: s.user,
					Entries: append([]Entry(nil), s.entries...),
				})
			case c&changeAppend != 0 && s.savedEntries < len(s.entries):
				out.Appended = append(out.Appended, Appended{
					Key: k, Started: s.started,
					Entries: append([]Entry(nil), s.entries[s.savedEntries:]...),
				})
				s.savedEntries, s.appended = len(s.entries), true
			}
		}
		clear(sh.changed)
		sh.mu.Unlock()
	}
	return out
}

// AppendedKeys lists the sessions that have had entries appended since
// their record was last written whole: the sessions a fold pass writes
// whole again (see RewriteWhole).
func (t *Tracker) AppendedKeys() []Key {
	var keys []Key
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		sh.sessions.all(func(s *session) {
			if s.appended {
				keys = append(keys, s.key)
			}
		})
		sh.mu.Unlock()
	}
	return keys
}

// RewriteWhole has the next TakeChanges write whole the sessions of keys,
// in order, that still have appended entries, until their entries reach
// budget (at least one session is taken). It returns the keys it did not
// get to. A fold pass goes through AppendedKeys this way, a slice per
// write, so that no single write rewrites every session.
func (t *Tracker) RewriteWhole(keys []Key, budget int) (rest []Key) {
	for i, k := range keys {
		if budget <= 0 {
			return keys[i:]
		}
		sh := t.shardOf(k)
		sh.mu.Lock()
		if s := sh.sessions.get(k); s != nil && s.appended {
			sh.mark(k, changeRecord)
			budget -= len(s.entries)
		}
		sh.mu.Unlock()
	}
	return nil
}

// Restore puts a stored session back, for example after a restart. A
// session already live under the same key is merged with it.
func (t *Tracker) Restore(snap Snapshot) {
	sh := t.shardOf(snap.Key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.sessions.get(snap.Key)
	fresh := s == nil
	if fresh {
		// A stored session has outlived a restart: not one of a flood.
		s = &session{key: snap.Key, started: snap.Started, lastSeen: snap.LastSeen, savedSeen: snap.LastSeen, requests: 2}
		sh.sessions.put(s)
		t.live.Add(1)
	}
	if snap.Started.Before(s.started) {
		s.started = snap.Started
	}
	if snap.LastSeen.After(s.lastSeen) {
		s.lastSeen = snap.LastSeen
	}
	if s.user == "" {
		s.user = snap.User
	}
	// Stored entries are kept whatever the limit: they were accepted
	// under an earlier config and must still be cleared.
	for _, e := range snap.Entries {
		t.add(s, e.ID, e.User, 0)
	}
	if fresh {
		s.savedEntries = len(s.entries) // as stored
	} else {
		sh.mark(snap.Key, changeRecord) // the record lacks the live session's part
	}
}
