package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// A session's record on disk is keyed by its hashed cookie value, never
// the value itself. The record is binary:
//
//	version byte (sessionFormat)
//	started, last seen: varint Unix nanoseconds
//	user: uvarint length, bytes
//	entries: uvarint count, then per entry
//	  ID: uvarint length, bytes
//	  user: uvarint length + 1, bytes; 0 when it is the session's user
//
// A session changes with every form it opens, so its record is written
// often: this takes a fraction of JSON's time and space. Records that
// start with '{' are the JSON of earlier builds and are still read.
const sessionFormat = 1

// encodeSession appends the record of s to buf.
func encodeSession(buf []byte, s *sessiontracker.Snapshot) []byte {
	buf = append(buf, sessionFormat)
	buf = binary.AppendVarint(buf, s.Started.UnixNano())
	buf = binary.AppendVarint(buf, s.LastSeen.UnixNano())
	buf = appendString(buf, s.User)
	buf = binary.AppendUvarint(buf, uint64(len(s.Entries)))
	for _, e := range s.Entries {
		buf = appendString(buf, e.ID)
		if e.User == s.User {
			buf = append(buf, 0)
			continue
		}
		buf = binary.AppendUvarint(buf, uint64(len(e.User))+1)
		buf = append(buf, e.User...)
	}
	return buf
}

// encodedSize is at least the length of s's record.
func encodedSize(s *sessiontracker.Snapshot) int {
	n := 1 + 2*binary.MaxVarintLen64 + binary.MaxVarintLen64 + len(s.User) + binary.MaxVarintLen64
	for _, e := range s.Entries {
		n += 2*binary.MaxVarintLen64 + len(e.ID) + len(e.User)
	}
	return n
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func decodeSession(k, v []byte) (sessiontracker.Snapshot, error) {
	var snap sessiontracker.Snapshot
	if len(k) != len(snap.Key) {
		return snap, fmt.Errorf("session record with a %d-byte key", len(k))
	}
	copy(snap.Key[:], k)
	var err error
	switch {
	case len(v) > 0 && v[0] == '{':
		err = decodeSessionJSON(v, &snap)
	case len(v) > 0 && v[0] == sessionFormat:
		err = decodeSessionBinary(v[1:], &snap)
	default:
		err = errors.New("unknown record format")
	}
	if err != nil {
		return snap, fmt.Errorf("decoding session %x: %w", k, err)
	}
	return snap, nil
}

// recordReader reads the fields of a binary record, remembering the
// first error.
type recordReader struct {
	buf []byte
	err error
}

var errTruncated = errors.New("record is truncated")

func (r *recordReader) varint() int64 {
	v, n := binary.Varint(r.buf)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *recordReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *recordReader) bytes(n uint64) string {
	if r.err != nil || n > uint64(len(r.buf)) {
		r.fail()
		return ""
	}
	s := string(r.buf[:n])
	r.buf = r.buf[n:]
	return s
}

func (r *recordReader) fail() {
	if r.err == nil {
		r.err = errTruncated
	}
	r.buf = nil
}

func decodeSessionBinary(v []byte, snap *sessiontracker.Snapshot) error {
	r := recordReader{buf: v}
	snap.Started = time.Unix(0, r.varint())
	snap.LastSeen = time.Unix(0, r.varint())
	snap.User = r.bytes(r.uvarint())
	count := r.uvarint()
	if count > uint64(len(r.buf)) { // each entry takes at least two bytes
		r.fail()
	}
	if r.err != nil {
		return r.err
	}
	snap.Entries = make([]sessiontracker.Entry, 0, count)
	for range count {
		e := sessiontracker.Entry{ID: r.bytes(r.uvarint()), User: snap.User}
		if n := r.uvarint(); n > 0 {
			e.User = r.bytes(n - 1)
		}
		if r.err != nil {
			return r.err
		}
		snap.Entries = append(snap.Entries, e)
	}
	if len(r.buf) != 0 {
		return errors.New("record has trailing bytes")
	}
	return nil
}

// storedSession is the JSON record of builds before the binary format.
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

func decodeSessionJSON(v []byte, snap *sessiontracker.Snapshot) error {
	var rec storedSession
	if err := json.Unmarshal(v, &rec); err != nil {
		return err
	}
	snap.Started = time.Unix(0, rec.Started)
	snap.LastSeen = time.Unix(0, rec.LastSeen)
	snap.User = rec.User
	snap.Entries = make([]sessiontracker.Entry, len(rec.Entries))
	for i, e := range rec.Entries {
		snap.Entries[i] = sessiontracker.Entry{ID: e.ID, User: e.User}
	}
	return nil
}
