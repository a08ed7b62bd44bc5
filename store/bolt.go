package store

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// FileName is the name of the bolt file inside the storage directory.
const FileName = "inubit_sessions.db"

var (
	bucketMeta     = []byte("meta")
	bucketSessions = []byte("sessions")
	bucketPending  = []byte("pending")
	bucketParked   = []byte("parked")
	keySecret      = []byte("secret")
)

// Bolt is a Store in one bbolt file.
type Bolt struct {
	db     *bolt.DB
	secret []byte
}

// OpenBolt opens or creates the store in dir, creating dir with mode
// 0700 and the file with mode 0600. If another process holds the file,
// it fails after lockTimeout instead of waiting for ever.
func OpenBolt(dir string, lockTimeout time.Duration) (*Bolt, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating storage directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("opening %s: another process holds it (a second Caddy with the same storage?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s := &Bolt{db: db}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("initializing %s: %w", path, err)
	}
	return s, nil
}

// init creates the buckets and the secret on first use.
func (s *Bolt) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketSessions, bucketAppended, bucketPending, bucketParked} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if secret := meta.Get(keySecret); len(secret) == 32 {
			s.secret = bytes.Clone(secret)
			return nil
		}
		s.secret = make([]byte, 32)
		if _, err := rand.Read(s.secret); err != nil {
			return err
		}
		return meta.Put(keySecret, s.secret)
	})
}

// Secret implements Store.
func (s *Bolt) Secret() []byte { return bytes.Clone(s.secret) }

// Close implements Store.
func (s *Bolt) Close() error { return s.db.Close() }

// pendingKey is user, a zero byte, then the ID; users and IDs never
// contain a zero byte (both are checked before they get here).
func pendingKey(user, id string) []byte {
	k := make([]byte, 0, len(user)+1+len(id))
	k = append(k, user...)
	k = append(k, 0)
	return append(k, id...)
}

func splitPendingKey(k []byte) (string, string) {
	user, id, _ := bytes.Cut(k, []byte{0})
	return string(user), string(id)
}

// Commit implements Store.
func (s *Bolt) Commit(b Batch) (map[string]int, error) {
	added := make(map[string]int)
	if b.Empty() {
		return added, nil
	}
	b = b.withoutEnded()
	err := s.db.Update(func(tx *bolt.Tx) error {
		sessions := tx.Bucket(bucketSessions)
		for _, k := range b.Deleted {
			if err := sessions.Delete(k[:]); err != nil {
				return err
			}
		}
		for _, e := range b.Ended {
			if err := deleteEnded(sessions, e); err != nil {
				return err
			}
		}
		if b.Fold {
			// Sessions in this batch are written whole below; any other
			// session's appended entries go into its stored record.
			whole := make(map[sessiontracker.Key]bool, len(b.Sessions))
			for i := range b.Sessions {
				whole[b.Sessions[i].Key] = true
			}
			if err := foldAppended(tx, whole); err != nil {
				return err
			}
		} else if b.DropAppendedThrough > 0 {
			if err := dropAppendedThrough(tx, b.DropAppendedThrough); err != nil {
				return err
			}
		}
		// In key order: bolt then walks its tree forward once.
		slices.SortFunc(b.Sessions, func(x, y sessiontracker.Snapshot) int {
			return bytes.Compare(x.Key[:], y.Key[:])
		})
		// bolt keeps each value until the transaction ends: the records
		// are cut from one buffer, sized for all of them.
		size := 0
		for i := range b.Sessions {
			size += encodedSize(&b.Sessions[i])
		}
		buf := make([]byte, 0, size)
		for i := range b.Sessions {
			start := len(buf)
			buf = encodeSession(buf, &b.Sessions[i])
			if err := sessions.Put(b.Sessions[i].Key[:], buf[start:len(buf):len(buf)]); err != nil {
				return err
			}
		}
		if err := putAppended(tx, b.Appended); err != nil {
			return err
		}
		pending := tx.Bucket(bucketPending)
		now := stamp(time.Now())
		for user, ids := range b.Pending {
			for _, id := range ids {
				queued, err := putPending(pending, user, id, now)
				if err != nil {
					return err
				}
				if queued {
					added[user]++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("writing store: %w", err)
	}
	return added, nil
}

// putPending queues id for user, stamped now, unless it is queued
// already; it reports whether it queued it.
func putPending(pending *bolt.Bucket, user, id string, now []byte) (bool, error) {
	k := pendingKey(user, id)
	if pending.Get(k) != nil {
		return false, nil
	}
	return true, pending.Put(k, now)
}

func stamp(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}

// Sessions implements Store. It first folds appended entries into
// their sessions' records, in one commit.
func (s *Bolt) Sessions(fn func(sessiontracker.Snapshot) error) error {
	if err := s.db.Update(func(tx *bolt.Tx) error { return foldAppended(tx, nil) }); err != nil {
		return err
	}
	var damaged DamagedError
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			snap, err := decodeSession(k, v)
			if err != nil {
				// One unreadable record must not keep every other
				// session and the whole queue from being restored.
				damaged.Keys = append(damaged.Keys, snap.Key)
				damaged.Err = cmp.Or(damaged.Err, err)
				return nil
			}
			return fn(snap)
		})
	})
	if err == nil && len(damaged.Keys) > 0 {
		return &damaged
	}
	return err
}

// deleteEnded deletes the record of an ended session, unless its key
// now holds a later session (the same cookie value used again).
func deleteEnded(sessions *bolt.Bucket, e EndedSession) error {
	v := sessions.Get(e.Key[:])
	if v == nil {
		return nil
	}
	if stored, err := decodeSession(e.Key[:], v); err == nil && !stored.Started.Equal(e.Started) {
		return nil
	}
	return sessions.Delete(e.Key[:])
}

// PendingCounts implements Store.
func (s *Bolt) PendingCounts() (map[string]int, error) {
	counts := make(map[string]int)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPending).ForEach(func(k, _ []byte) error {
			user, _ := splitPendingKey(k)
			counts[user]++
			return nil
		})
	})
	return counts, err
}

// PendingSince implements Store.
func (s *Bolt) PendingSince() (map[string]time.Time, error) {
	since := make(map[string]time.Time)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return nil // not a stamp; the entry still counts as pending
			}
			user, _ := splitPendingKey(k)
			t := time.Unix(0, int64(binary.BigEndian.Uint64(v)))
			if old, ok := since[user]; !ok || t.Before(old) {
				since[user] = t
			}
			return nil
		})
	})
	return since, err
}

// Peek implements Store.
func (s *Bolt) Peek(user string, n int) ([]string, error) {
	var ids []string
	prefix := pendingKey(user, "")
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPending).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(ids) < n; k, _ = c.Next() {
			ids = append(ids, string(k[len(prefix):]))
		}
		return nil
	})
	return ids, err
}

// Remove implements Store.
func (s *Bolt) Remove(user string, ids []string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		pending := tx.Bucket(bucketPending)
		for _, id := range ids {
			if err := pending.Delete(pendingKey(user, id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Park implements Store.
func (s *Bolt) Park(user, id, reason string) error {
	data, err := json.Marshal(ParkedEntry{User: user, ID: id, Reason: reason, Since: time.Now().UTC()})
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		k := pendingKey(user, id)
		if err := tx.Bucket(bucketPending).Delete(k); err != nil {
			return err
		}
		return tx.Bucket(bucketParked).Put(k, data)
	})
}

// Parked implements Store.
func (s *Bolt) Parked() ([]ParkedEntry, error) {
	var out []ParkedEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketParked).ForEach(func(_, v []byte) error {
			var p ParkedEntry
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	return out, err
}

// Release implements Store.
func (s *Bolt) Release(user, id string) (queued bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		k := pendingKey(user, id)
		parked := tx.Bucket(bucketParked)
		if parked.Get(k) == nil {
			return fmt.Errorf("%w: %q for user %q", ErrNotParked, id, user)
		}
		if err := parked.Delete(k); err != nil {
			return err
		}
		pending := tx.Bucket(bucketPending)
		if pending.Get(k) != nil {
			queued = false // a later session queued it again: it keeps its queue time
			return nil
		}
		queued = true
		return pending.Put(k, stamp(time.Now()))
	})
	return queued && err == nil, err
}

// Orphans implements Store.
func (s *Bolt) Orphans() ([]string, error) {
	return s.Peek("", 1<<30)
}

// AdoptOrphans implements Store.
func (s *Bolt) AdoptOrphans(user string) (int, error) {
	if user == "" {
		return 0, nil
	}
	added := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		pending := tx.Bucket(bucketPending)
		prefix := pendingKey("", "")
		var orphans [][]byte
		c := pending.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			orphans = append(orphans, bytes.Clone(k))
		}
		for _, k := range orphans {
			target := pendingKey(user, string(k[len(prefix):]))
			if pending.Get(target) == nil {
				if err := pending.Put(target, stamp(time.Now())); err != nil {
					return err
				}
				added++
			}
			if err := pending.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return added, err
}
