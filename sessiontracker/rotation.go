package sessiontracker

import (
	"sync"
	"time"
)

// rotationGrace is how long a rotated-away cookie value still leads to
// its session: long enough for requests that were in flight when the
// upstream rotated the value (a page still loading at login) to finish.
const rotationGrace = time.Minute

// rotations remembers recent session ID rotations, old key to new key,
// so that a request still carrying the old value adds what it shows to
// the session under its new value instead of starting a session of its
// own, which would have no user.
type rotations struct {
	mu    sync.Mutex
	moved map[Key]rotation
}

type rotation struct {
	to Key
	at time.Time
}

// note records that from became to at now.
func (r *rotations) note(from, to Key, now time.Time) {
	r.mu.Lock()
	if r.moved == nil {
		r.moved = make(map[Key]rotation)
	}
	r.moved[from] = rotation{to: to, at: now}
	r.mu.Unlock()
}

// follow returns the key that k was rotated to within the grace period
// before now, following a few rotations in a row.
func (r *rotations) follow(k Key, now time.Time) (Key, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	found := false
	for range 4 {
		next, ok := r.moved[k]
		if !ok || now.Sub(next.at) > rotationGrace {
			break
		}
		k, found = next.to, true
	}
	return k, found
}

// prune forgets rotations older than the grace period.
func (r *rotations) prune(now time.Time) {
	r.mu.Lock()
	for k, m := range r.moved {
		if now.Sub(m.at) > rotationGrace {
			delete(r.moved, k)
		}
	}
	r.mu.Unlock()
}
