package sessiontracker

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyWithTag makes a key whose probe hash is tag and whose other bytes
// are id, so that tests can crowd keys onto the same slots.
func keyWithTag(tag, id uint64) Key {
	var k Key
	binary.LittleEndian.PutUint64(k[:8], id)
	binary.LittleEndian.PutUint64(k[8:], tag)
	return k
}

// checkTable compares the table with the map it must equal: every
// session found under its key, nothing found under a removed key, the
// count right, and every session reachable by a walk over all slots.
func checkTable(t *testing.T, tb *table, want map[Key]*session, removed []Key) {
	t.Helper()
	require.Equal(t, len(want), tb.len())
	for k, s := range want {
		require.Same(t, s, tb.get(k), "key %x", k)
	}
	for _, k := range removed {
		if _, ok := want[k]; !ok {
			require.Nil(t, tb.get(k), "removed key %x", k)
		}
	}
	seen := 0
	tb.all(func(s *session) {
		require.Same(t, want[s.key], s)
		seen++
	})
	require.Equal(t, len(want), seen)
}

// Random puts and removes, with few distinct tags so that probe runs
// are long, wrap around the end of the slot array and cross each other:
// the table must always hold exactly what a map holds.
func TestTableMatchesAMapUnderCollisions(t *testing.T) {
	for _, tags := range []uint64{1, 3, 7, 64, 1 << 40} {
		rng := rand.New(rand.NewPCG(tags, 42))
		var tb table
		want := map[Key]*session{}
		var removed []Key
		for step := range 3000 {
			// Tags near the top of the slot range force wrap-around.
			k := keyWithTag(rng.Uint64N(tags)+^uint64(0)-tags, rng.Uint64N(200))
			if rng.IntN(3) == 0 {
				got := tb.remove(k)
				assert.Same(t, want[k], got, "step %d: remove returns what was held", step)
				delete(want, k)
				removed = append(removed, k)
			} else {
				s := &session{key: k}
				tb.put(s)
				want[k] = s
			}
			if step%50 == 0 {
				checkTable(t, &tb, want, removed)
			}
		}
		checkTable(t, &tb, want, removed)
		for k := range want {
			require.NotNil(t, tb.remove(k))
		}
		checkTable(t, &tb, map[Key]*session{}, removed)
	}
}

func TestTableGrowsAndKeepsEverything(t *testing.T) {
	var tb table
	want := map[Key]*session{}
	for i := range uint64(10_000) {
		k := keyWithTag(i*0x9e3779b97f4a7c15, i)
		want[k] = &session{key: k}
		tb.put(want[k])
	}
	checkTable(t, &tb, want, nil)
	assert.LessOrEqual(t, 2*tb.len(), len(tb.slots), "at most half full")
}

func TestEmptyTable(t *testing.T) {
	var tb table
	k := keyWithTag(5, 5)
	assert.Nil(t, tb.get(k))
	assert.Nil(t, tb.remove(k))
	tb.all(func(*session) { t.Fatal("an empty table has no sessions") })
}
