package cleaner

import (
	"errors"
	"sync"
	"time"
)

// Queue holds the IDs waiting to be cleared, per user, durably if the
// implementation is. The Cleaner keeps only counts and retry state in
// memory and reads each batch from the Queue, so a long INUBIT outage
// grows the Queue, not the Cleaner.
type Queue interface {
	// Add queues IDs per user, ignoring those already queued, and
	// returns how many per user were new. The empty user holds IDs that
	// cannot be sent for want of a user.
	Add(pending map[string][]string) (map[string]int, error)
	// PendingCounts returns the number of queued IDs per user.
	PendingCounts() (map[string]int, error)
	// PendingSince returns, per user, when its oldest queued ID was
	// queued.
	PendingSince() (map[string]time.Time, error)
	// Peek returns up to n queued IDs of user.
	Peek(user string, n int) ([]string, error)
	// Remove drops acknowledged IDs.
	Remove(user string, ids []string) error
	// Park moves one ID of user aside with the reason INUBIT refused it:
	// kept, listed, not sent again until released.
	Park(user, id, reason string) error
	// ParkedCount returns how many IDs are parked.
	ParkedCount() (int, error)
	// Release queues a parked ID of user again and reports whether that
	// added it to the queue (false: it was queued anew meanwhile). It
	// fails if there is no such parked ID.
	Release(user, id string) (queued bool, err error)
}

// MemoryQueue is a Queue in memory, for tests and for running without a
// store.
type MemoryQueue struct {
	mu     sync.Mutex
	users  map[string]*memoryUserQueue
	parked map[string][]string // user -> parked IDs
}

type memoryUserQueue struct {
	ids []string
	set map[string]time.Time // when each ID was queued
}

// NewMemoryQueue returns an empty MemoryQueue.
func NewMemoryQueue() *MemoryQueue {
	return &MemoryQueue{users: make(map[string]*memoryUserQueue), parked: make(map[string][]string)}
}

// Add implements Queue.
func (m *MemoryQueue) Add(pending map[string][]string) (map[string]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	added := make(map[string]int)
	now := time.Now()
	for user, ids := range pending {
		q := m.users[user]
		if q == nil {
			q = &memoryUserQueue{set: make(map[string]time.Time)}
			m.users[user] = q
		}
		for _, id := range ids {
			if _, ok := q.set[id]; ok {
				continue
			}
			q.set[id] = now
			q.ids = append(q.ids, id)
			added[user]++
		}
	}
	return added, nil
}

// PendingCounts implements Queue.
func (m *MemoryQueue) PendingCounts() (map[string]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.users))
	for user, q := range m.users {
		if len(q.ids) > 0 {
			out[user] = len(q.ids)
		}
	}
	return out, nil
}

// PendingSince implements Queue.
func (m *MemoryQueue) PendingSince() (map[string]time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]time.Time, len(m.users))
	for user, q := range m.users {
		for _, t := range q.set {
			if old, ok := out[user]; !ok || t.Before(old) {
				out[user] = t
			}
		}
	}
	return out, nil
}

// Peek implements Queue.
func (m *MemoryQueue) Peek(user string, n int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.users[user]
	if q == nil {
		return nil, nil
	}
	return append([]string(nil), q.ids[:min(n, len(q.ids))]...), nil
}

// Remove implements Queue.
func (m *MemoryQueue) Remove(user string, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.users[user]
	if q == nil {
		return nil
	}
	for _, id := range ids {
		delete(q.set, id)
	}
	kept := q.ids[:0]
	for _, id := range q.ids {
		if _, ok := q.set[id]; ok {
			kept = append(kept, id)
		}
	}
	clear(q.ids[len(kept):])
	q.ids = kept
	if len(q.ids) == 0 {
		delete(m.users, user)
	}
	return nil
}

// Park implements Queue.
func (m *MemoryQueue) Park(user, id, _ string) error {
	if err := m.Remove(user, []string{id}); err != nil {
		return err
	}
	m.mu.Lock()
	m.parked[user] = append(m.parked[user], id)
	m.mu.Unlock()
	return nil
}

// ParkedCount implements Queue.
func (m *MemoryQueue) ParkedCount() (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, ids := range m.parked {
		n += len(ids)
	}
	return n, nil
}

// errNotParked is MemoryQueue's answer to releasing an ID not parked.
var errNotParked = errors.New("no such parked entry")

// Release implements Queue.
func (m *MemoryQueue) Release(user, id string) (queued bool, err error) {
	m.mu.Lock()
	ids := m.parked[user]
	i := -1
	for j, p := range ids {
		if p == id {
			i = j
			break
		}
	}
	if i < 0 {
		m.mu.Unlock()
		return false, errNotParked
	}
	m.parked[user] = append(ids[:i], ids[i+1:]...)
	if len(m.parked[user]) == 0 {
		delete(m.parked, user)
	}
	m.mu.Unlock()
	added, err := m.Add(map[string][]string{user: {id}})
	return added[user] > 0, err
}

// Parked returns the parked IDs per user.
func (m *MemoryQueue) Parked() map[string][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][]string, len(m.parked))
	for user, ids := range m.parked {
		out[user] = append([]string(nil), ids...)
	}
	return out
}
