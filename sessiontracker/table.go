package sessiontracker

import "encoding/binary"

// table holds one shard's sessions by Key: open addressing with linear
// probing. Keys are keyed hashes, uniformly random, so eight of a key's
// own bytes serve as its hash and as a tag compared before the whole
// key. A lookup thus reads the slot array and the session it finds,
// where a Go map also walks its header, directory and group control
// words: on the request path, between two proxied requests that have
// evicted all of it from the CPU caches, that is most of the lookup's
// cost. Not safe for concurrent use; the shard's lock guards it.
type table struct {
	slots []slot // a power of two long, or empty
	n     int    // sessions held
}

type slot struct {
	tag uint64   // tagOf the session's key
	s   *session // nil: an empty slot
}

// minTableSlots is the size of a table's first slot array.
const minTableSlots = 8

// tagOf returns the probe hash of k. Byte 0 picks the shard (shardOf),
// so the tag takes bytes the shard choice leaves independent.
func tagOf(k Key) uint64 { return binary.LittleEndian.Uint64(k[8:]) }

// len returns the number of sessions held.
func (t *table) len() int { return t.n }

// get returns the session of k, or nil.
func (t *table) get(k Key) *session {
	if t.n == 0 {
		return nil
	}
	tag := tagOf(k)
	mask := uint64(len(t.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if sl.s == nil {
			return nil
		}
		if sl.tag == tag && sl.s.key == k {
			return sl.s
		}
	}
}

// put stores s under s.key, replacing a session held under that key.
func (t *table) put(s *session) {
	if (t.n+1)*2 > len(t.slots) { // at most half full: short probes
		t.grow()
	}
	tag := tagOf(s.key)
	mask := uint64(len(t.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if sl.s == nil {
			*sl = slot{tag: tag, s: s}
			t.n++
			return
		}
		if sl.tag == tag && sl.s.key == s.key {
			sl.s = s
			return
		}
	}
}

// remove deletes the session of k and returns it, or nil. The slots
// after it that probed past it move back, so that no lookup stops early
// at the gap (backward-shift deletion: no tombstones to clean up).
func (t *table) remove(k Key) *session {
	if t.n == 0 {
		return nil
	}
	tag := tagOf(k)
	mask := uint64(len(t.slots) - 1)
	i := tag & mask
	for {
		sl := &t.slots[i]
		if sl.s == nil {
			return nil
		}
		if sl.tag == tag && sl.s.key == k {
			break
		}
		i = (i + 1) & mask
	}
	removed := t.slots[i].s
	for j := (i + 1) & mask; t.slots[j].s != nil; j = (j + 1) & mask {
		home := t.slots[j].tag & mask
		// The entry at j may fill the gap at i unless its home slot
		// lies cyclically in (i, j]: then a lookup would start past i.
		if (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = slot{}
	t.n--
	return removed
}

// all calls fn for every session held; fn must not change the table.
func (t *table) all(fn func(*session)) {
	for i := range t.slots {
		if s := t.slots[i].s; s != nil {
			fn(s)
		}
	}
}

// grow doubles the slot array and reinserts every session.
func (t *table) grow() {
	old := t.slots
	t.slots = make([]slot, max(2*len(old), minTableSlots))
	mask := uint64(len(t.slots) - 1)
	for _, sl := range old {
		if sl.s == nil {
			continue
		}
		i := sl.tag & mask
		for t.slots[i].s != nil {
			i = (i + 1) & mask
		}
		t.slots[i] = sl
	}
}
