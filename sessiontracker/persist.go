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

// TakeChanges returns the sessions created or changed, and the keys of
// sessions moved away by rotation, since the previous call. Ended
// sessions are not included: their end is reported through Ended.
func (t *Tracker) TakeChanges() (changed []Snapshot, deleted []Key) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, upsert := range sh.changed {
			s := sh.sessions.get(k)
			switch {
			case upsert && s != nil:
				s.savedSeen = s.lastSeen
				changed = append(changed, Snapshot{
					Key: k, Started: s.started, LastSeen: s.lastSeen, User: s.user,
					Entries: append([]Entry(nil), s.entries...),
				})
			case !upsert:
				deleted = append(deleted, k)
			}
		}
		clear(sh.changed)
		sh.mu.Unlock()
	}
	return changed, deleted
}

// Restore puts a stored session back, for example after a restart. A
// session already live under the same key is merged with it.
func (t *Tracker) Restore(snap Snapshot) {
	sh := t.shardOf(snap.Key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.sessions.get(snap.Key)
	if s == nil {
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
}
