package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// storedSession is a session's record on disk; the key is its hashed
// cookie value, never the value itself.
type storedSession struct {
	Started  int64         `json:"s"`
	LastSeen int64         `json:"l"`
	User     string        `json:"u,omitempty"`
	Entries  []storedEntry `json:"e,omitempty"`
}

type storedEntry struct {
	ID   string `json:"i"`
	User string `json:"u,omitempty"`
}

func encodeSession(s *sessiontracker.Snapshot) ([]byte, error) {
	rec := storedSession{
		Started:  s.Started.UnixNano(),
		LastSeen: s.LastSeen.UnixNano(),
		User:     s.User,
		Entries:  make([]storedEntry, len(s.Entries)),
	}
	for i, e := range s.Entries {
		rec.Entries[i] = storedEntry{ID: e.ID, User: e.User}
	}
	return json.Marshal(rec)
}

func decodeSession(k, v []byte) (sessiontracker.Snapshot, error) {
	var snap sessiontracker.Snapshot
	if len(k) != len(snap.Key) {
		return snap, fmt.Errorf("session record with a %d-byte key", len(k))
	}
	var rec storedSession
	if err := json.Unmarshal(v, &rec); err != nil {
		return snap, fmt.Errorf("decoding session %x: %w", k, err)
	}
	copy(snap.Key[:], k)
	snap.Started = time.Unix(0, rec.Started)
	snap.LastSeen = time.Unix(0, rec.LastSeen)
	snap.User = rec.User
	snap.Entries = make([]sessiontracker.Entry, len(rec.Entries))
	for i, e := range rec.Entries {
		snap.Entries[i] = sessiontracker.Entry{ID: e.ID, User: e.User}
	}
	return snap, nil
}
