package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

func TestSessionRecordRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 123, time.UTC)
	snap := sessiontracker.Snapshot{
		Key: sessiontracker.Key{1, 2, 3}, Started: t0, LastSeen: t0.Add(time.Minute), User: "anna müller",
		Entries: []sessiontracker.Entry{
			{ID: idA, User: "anna müller"}, // the session's user: stored as a zero byte
			{ID: idB, User: ""},            // collected before a user was known
			{ID: "webform@@@X/y(1)_z@@@9.xml", User: "bob"},
		},
	}
	rec := encodeSession(nil, &snap)
	got, err := decodeSession(snap.Key[:], rec)
	require.NoError(t, err)
	assert.True(t, snap.Started.Equal(got.Started))
	assert.True(t, snap.LastSeen.Equal(got.LastSeen))
	assert.Equal(t, snap.User, got.User)
	assert.Equal(t, snap.Entries, got.Entries)
	payload := len(idA) + len(idB) + len(snap.Entries[2].ID) + len(snap.User) + len("bob")
	assert.LessOrEqual(t, len(rec), payload+32, "the record is the strings and a few bytes of lengths and times")

	empty := sessiontracker.Snapshot{Key: snap.Key, Started: t0, LastSeen: t0}
	got, err = decodeSession(snap.Key[:], encodeSession(nil, &empty))
	require.NoError(t, err)
	assert.Empty(t, got.Entries)
	assert.Empty(t, got.User)
}

// Stores written by builds before the binary format hold JSON records;
// an upgrade must read them, or every live session would be lost.
func TestSessionRecordOfEarlierBuildsIsRead(t *testing.T) {
	k := sessiontracker.Key{9}
	legacy := []byte(`{"s":1796380800000000000,"l":1796380860000000000,"u":"anna","e":[{"i":"` + idA + `","u":"anna"},{"i":"` + idB + `"}]}`)
	got, err := decodeSession(k[:], legacy)
	require.NoError(t, err)
	assert.Equal(t, "anna", got.User)
	assert.Equal(t, []sessiontracker.Entry{{ID: idA, User: "anna"}, {ID: idB}}, got.Entries)
	assert.Equal(t, int64(1796380800000000000), got.Started.UnixNano())
}

func TestDamagedSessionRecordIsAnError(t *testing.T) {
	snap := sessiontracker.Snapshot{Started: time.Unix(5, 0), LastSeen: time.Unix(6, 0), User: "anna",
		Entries: []sessiontracker.Entry{{ID: idA, User: "anna"}}}
	rec := encodeSession(nil, &snap)
	for cut := 1; cut < len(rec); cut++ {
		_, err := decodeSession(snap.Key[:], rec[:cut])
		assert.Error(t, err, "record cut at %d of %d bytes", cut, len(rec))
	}
	_, err := decodeSession(snap.Key[:], append(rec, 0))
	assert.ErrorContains(t, err, "trailing")
	_, err = decodeSession(snap.Key[:], []byte{7, 1, 2})
	assert.ErrorContains(t, err, "unknown record format")
	_, err = decodeSession(snap.Key[:], []byte{sessionFormat, 2, 2, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	assert.Error(t, err, "an entry count larger than the record")
}

func FuzzDecodeSession(f *testing.F) {
	snap := sessiontracker.Snapshot{User: "anna", Entries: []sessiontracker.Entry{{ID: idA, User: "bob"}}}
	f.Add(encodeSession(nil, &snap))
	f.Add([]byte(`{"s":1,"e":[{"i":"x"}]}`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		k := sessiontracker.Key{}
		got, err := decodeSession(k[:], rec)
		if err != nil || (len(rec) > 0 && rec[0] == '{') {
			return
		}
		// what decodes re-encodes to a record that decodes the same
		again, err := decodeSession(k[:], encodeSession(nil, &got))
		if assert.NoError(t, err) {
			assert.True(t, got.Started.Equal(again.Started) && got.LastSeen.Equal(again.LastSeen))
			assert.Equal(t, got.User, again.User)
			assert.Equal(t, len(got.Entries), len(again.Entries))
			if len(got.Entries) > 0 {
				assert.Equal(t, got.Entries, again.Entries)
			}
		}
	})
}

// An appended-entries record from disk never panics the decoder.
func FuzzDecodeAppended(f *testing.F) {
	f.Add(encodeAppended(nil, &sessiontracker.Appended{Key: sessiontracker.Key{7}, Started: time.Unix(0, 1),
		Entries: []sessiontracker.Entry{{ID: "webform@@@A/f(1)_a@@@1.xml", User: "alice"}}}))
	f.Add([]byte{appendedFormat})
	f.Fuzz(func(t *testing.T, v []byte) {
		a, err := decodeAppended(v)
		if err != nil {
			return
		}
		// What decodes survives a write and a read unchanged.
		again, err := decodeAppended(encodeAppended(nil, &a))
		require.NoError(t, err)
		require.Equal(t, a.Key, again.Key)
		require.Equal(t, a.Started.UnixNano(), again.Started.UnixNano())
		require.Equal(t, a.Entries, again.Entries)
	})
}
