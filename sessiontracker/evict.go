package sessiontracker

import (
	"container/heap"
	"time"
)

// evictHeadroom is the share of MaxSessions ended beyond the excess when
// the bound is hit, so that a flood of new sessions trims the table once
// per hundredth of its size instead of on every request.
const evictHeadroom = 100

// enforceMaxSessions ends sessions while more than MaxSessions are live:
// sessions seen on one request only, least recently seen first, then the
// others in the same order. Only one caller trims at a time; others go
// on, so the bound may be passed briefly by the requests in flight.
func (t *Tracker) enforceMaxSessions() {
	limit := t.config().MaxSessions
	if limit <= 0 || t.live.Load() <= int64(limit) {
		return
	}
	if !t.evictMu.TryLock() {
		return
	}
	defer t.evictMu.Unlock()
	excess := int(t.live.Load()) - limit
	if excess <= 0 {
		return
	}
	victims := t.leastRecentlySeen(excess + limit/evictHeadroom)
	ended := make([]Ended, 0, len(victims))
	for _, v := range victims {
		sh := t.shardOf(v.key)
		sh.mu.Lock()
		s := sh.sessions.get(v.key)
		// A session seen again since it was picked stays.
		if s != nil && s.lastSeen.Equal(v.lastSeen) {
			t.drop(sh, v.key)
			ended = append(ended, *t.ending(s, v.key, ReasonEvicted))
		}
		sh.mu.Unlock()
	}
	t.evicted.Add(int64(len(ended)))
	if len(ended) > 0 && t.evict != nil {
		t.evict(ended)
	}
}

// EnforceMaxSessions ends sessions over MaxSessions, as a new session
// does; call it after restoring stored sessions under a lower bound.
func (t *Tracker) EnforceMaxSessions() { t.enforceMaxSessions() }

// candidate is a session that may be evicted.
type candidate struct {
	key      Key
	lastSeen time.Time
	// returning is set for a session seen on more than one request:
	// such sessions go after all one-request sessions, which is what
	// a flood of invented cookies makes.
	returning bool
}

// keptLonger reports whether a should stay longer than b.
func (a candidate) keptLonger(b candidate) bool {
	if a.returning != b.returning {
		return a.returning
	}
	return a.lastSeen.After(b.lastSeen)
}

// newestFirst is a max-heap by keptLonger: its top is the session most
// worth keeping of the n least worth keeping found so far.
type newestFirst []candidate

func (h newestFirst) Len() int           { return len(h) }
func (h newestFirst) Less(i, j int) bool { return h[i].keptLonger(h[j]) }
func (h newestFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *newestFirst) Push(x any)        { *h = append(*h, x.(candidate)) }
func (h *newestFirst) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// leastRecentlySeen returns up to n sessions that were seen least
// recently, in one pass over the shards and with memory for n only.
func (t *Tracker) leastRecentlySeen(n int) []candidate {
	h := make(newestFirst, 0, n)
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		sh.sessions.all(func(s *session) {
			c := candidate{key: s.key, lastSeen: s.lastSeen, returning: s.requests > 1}
			switch {
			case len(h) < n:
				heap.Push(&h, c)
			case h[0].keptLonger(c):
				h[0] = c
				heap.Fix(&h, 0)
			}
		})
		sh.mu.Unlock()
	}
	return h
}
