package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// New entries of a session whose record is already stored go to the
// bucket "appended" instead of into a rewrite of the record: one small
// record per session and commit, under the bucket's next sequence
// number, so that a commit writes the bucket's last page or two however
// many sessions gained an entry, where rewriting the records would write
// one page per session. Opening the store folds them into their
// sessions' records, and so does the persist worker when it stops (a
// Batch with Fold set: every session with appended entries is written
// whole in the same commit that empties the bucket). While it runs, the
// worker folds in passes: it notes the bucket's sequence, writes the
// sessions with appended records whole a slice per commit, and with the
// last slice drops the records up to the noted sequence
// (Batch.DropAppendedThrough).
//
// An appended record is binary:
//
//	version byte (appendedFormat)
//	session key: the Key's bytes
//	started: varint Unix nanoseconds of the session it belongs to
//	entries: uvarint count, then per entry
//	  ID: uvarint length, bytes
//	  user: uvarint length, bytes
//
// Started tells a session from a later one under the same key (an ended
// session's key used again): appended entries are applied only to the
// record they were written for.
const appendedFormat = 1

var bucketAppended = []byte("appended")

// appendedFill is how full bolt leaves the appended bucket's pages when
// it splits them: keys only ever grow, so full pages waste nothing.
const appendedFill = 1.0

func encodeAppended(buf []byte, a *sessiontracker.Appended) []byte {
	buf = append(buf, appendedFormat)
	buf = append(buf, a.Key[:]...)
	buf = binary.AppendVarint(buf, a.Started.UnixNano())
	buf = binary.AppendUvarint(buf, uint64(len(a.Entries)))
	for _, e := range a.Entries {
		buf = appendString(buf, e.ID)
		buf = appendString(buf, e.User)
	}
	return buf
}

func decodeAppended(v []byte) (sessiontracker.Appended, error) {
	var a sessiontracker.Appended
	if len(v) < 1+len(a.Key) || v[0] != appendedFormat {
		return a, errors.New("unknown appended-entries record format")
	}
	copy(a.Key[:], v[1:])
	r := recordReader{buf: v[1+len(a.Key):]}
	a.Started = time.Unix(0, r.varint())
	count := r.uvarint()
	if count > uint64(len(r.buf)) { // each entry takes at least two bytes
		r.fail()
	}
	for i := uint64(0); i < count && r.err == nil; i++ {
		a.Entries = append(a.Entries, sessiontracker.Entry{ID: r.bytes(r.uvarint()), User: r.bytes(r.uvarint())})
	}
	if r.err != nil {
		return a, r.err
	}
	if len(r.buf) != 0 {
		return a, errors.New("appended-entries record has trailing bytes")
	}
	return a, nil
}

// putAppended writes the appended entries of one commit.
func putAppended(tx *bolt.Tx, appended []sessiontracker.Appended) error {
	if len(appended) == 0 {
		return nil
	}
	b := tx.Bucket(bucketAppended)
	b.FillPercent = appendedFill
	var buf []byte
	for i := range appended {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		// bolt keeps each value until the transaction ends: no reuse.
		buf = encodeAppended(buf[len(buf):], &appended[i])
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), buf); err != nil {
			return err
		}
	}
	return nil
}

// emptyAppended drops every appended record. The sequence goes on where
// it was: a fold pass compares it with one noted earlier.
func emptyAppended(tx *bolt.Tx) error {
	var seq uint64
	if b := tx.Bucket(bucketAppended); b != nil {
		seq = b.Sequence()
	}
	if err := tx.DeleteBucket(bucketAppended); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return err
	}
	b, err := tx.CreateBucket(bucketAppended)
	if err != nil {
		return err
	}
	return b.SetSequence(seq)
}

// foldAppended adds the appended entries to the records of the sessions
// they belong to, except those of sessions in skip (written whole in the
// same commit), and empties the bucket. Entries of a session that ended
// (no record, or a later session's under its key) are dropped: its end
// queued them.
func foldAppended(tx *bolt.Tx, skip map[sessiontracker.Key]bool) error {
	sessions := tx.Bucket(bucketSessions)
	type grown struct {
		snap    sessiontracker.Snapshot
		held    map[string]bool // IDs in snap.Entries
		added   bool
		damaged bool // its record cannot be read
	}
	found := make(map[sessiontracker.Key]*grown)
	pending := tx.Bucket(bucketPending)
	now := stamp(time.Now())
	err := tx.Bucket(bucketAppended).ForEach(func(_, v []byte) error {
		a, err := decodeAppended(v)
		if err != nil {
			// Damaged on disk: its entries cannot be read, and failing
			// here would stop every later write and every start.
			return nil
		}
		if skip[a.Key] {
			return nil
		}
		g, ok := found[a.Key]
		if !ok {
			g = &grown{}
			found[a.Key] = g
			if rec := sessions.Get(a.Key[:]); rec != nil {
				if g.snap, err = decodeSession(a.Key[:], rec); err != nil {
					g.damaged = true
				} else {
					g.held = make(map[string]bool, len(g.snap.Entries))
					for _, e := range g.snap.Entries {
						g.held[e.ID] = true
					}
				}
			}
		}
		if g.damaged {
			// The session cannot be restored (Sessions passes its record
			// over), so its end will never come: its readable entries
			// are queued for clearing now instead of dropped.
			for _, e := range a.Entries {
				if _, err := putPending(pending, e.User, e.ID, now); err != nil {
					return err
				}
			}
			return nil
		}
		if g.held == nil || !g.snap.Started.Equal(a.Started) {
			return nil // ended, or an earlier session under the same key
		}
		for _, e := range a.Entries {
			if !g.held[e.ID] {
				g.held[e.ID] = true
				g.snap.Entries = append(g.snap.Entries, e)
				g.added = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for k, g := range found {
		if g.added {
			if err := sessions.Put(k[:], encodeSession(nil, &g.snap)); err != nil {
				return err
			}
		}
	}
	return emptyAppended(tx)
}

// dropAppendedThrough drops the appended records with sequence numbers
// up to seq: the oldest ones, in key order. Deleting keys one by one
// costs a tree search each, so when more go than stay, the bucket is
// emptied and the later records put back instead.
func dropAppendedThrough(tx *bolt.Tx, seq uint64) error {
	b := tx.Bucket(bucketAppended)
	var drop, keep [][]byte // keep: key, value, key, value, …
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if binary.BigEndian.Uint64(k) <= seq {
			drop = append(drop, k)
		} else {
			keep = append(keep, bytes.Clone(k), bytes.Clone(v))
		}
	}
	if len(drop) <= len(keep)/2 {
		// Deleted after the walk: bolt's cursor may skip a key after a delete.
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}
	if err := emptyAppended(tx); err != nil {
		return err
	}
	b = tx.Bucket(bucketAppended)
	b.FillPercent = appendedFill
	for i := 0; i < len(keep); i += 2 {
		if err := b.Put(keep[i], keep[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// AppendedSequence implements Store.
func (s *Bolt) AppendedSequence() (uint64, error) {
	var seq uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		seq = tx.Bucket(bucketAppended).Sequence()
		return nil
	})
	return seq, err
}
