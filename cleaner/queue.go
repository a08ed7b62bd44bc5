package cleaner

import "time"

// userQueue holds the IDs waiting to be cleared for one user, in the
// order they were queued, each once.
type userQueue struct {
	ids      []string
	set      map[string]struct{}
	busy     bool      // a call for this user is in flight
	attempts int       // failed calls since the last success
	due      time.Time // earliest time of the next call
}

func newUserQueue() *userQueue {
	return &userQueue{set: make(map[string]struct{})}
}

// add queues the IDs not already waiting and returns how many were new.
func (q *userQueue) add(ids []string) int {
	n := 0
	for _, id := range ids {
		if _, ok := q.set[id]; ok {
			continue
		}
		q.set[id] = struct{}{}
		q.ids = append(q.ids, id)
		n++
	}
	return n
}

// batch returns a copy of up to size IDs from the front.
func (q *userQueue) batch(size int) []string {
	n := min(size, len(q.ids))
	return append([]string(nil), q.ids[:n]...)
}

// remove drops the acknowledged IDs.
func (q *userQueue) remove(done []string) {
	gone := make(map[string]struct{}, len(done))
	for _, id := range done {
		gone[id] = struct{}{}
		delete(q.set, id)
	}
	kept := q.ids[:0]
	for _, id := range q.ids {
		if _, ok := gone[id]; !ok {
			kept = append(kept, id)
		}
	}
	clear(q.ids[len(kept):])
	q.ids = kept
}
