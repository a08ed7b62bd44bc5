package cleaner

import (
	"go.uber.org/zap"
)

// RetryNow lets every queued user's next call go at once: backoff waits
// end, and a maintenance or refused-credentials pause is lifted without
// waiting for the health check or AuthRetry. If INUBIT still refuses,
// its answer pauses delivery again as usual. It returns the pause it
// lifted ("" if none).
func (c *Cleaner) RetryNow() string {
	c.mu.Lock()
	now := c.now()
	queued, backingOff := 0, 0
	for _, u := range c.users {
		if u.pending > 0 {
			queued++
			if u.due.After(now) {
				backingOff++
			}
		}
		u.due = now
	}
	lifted := c.gate.lift()
	c.mu.Unlock()
	c.logger.Info("delivery retried on request: waits ended",
		zap.Int("users_queued", queued), zap.Int("users_in_backoff", backingOff),
		zap.String("pause_lifted", lifted))
	c.signal()
	return lifted
}

// Release queues a parked ID of user again; it goes out with user's next
// call. It fails, changing nothing, if the queue has no such parked ID.
// An ID that a later session queued again while it was parked is
// already pending, and counts once.
func (c *Cleaner) Release(user, id string) error {
	queued, err := c.queue.Release(user, id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.parked = max(c.parked-1, 0)
	c.mu.Unlock()
	c.logger.Info("parked entry released; it is sent again", zap.String("user", user), zap.String("id", id),
		zap.Bool("was_queued_again", !queued))
	if queued {
		c.Queued(map[string]int{user: 1})
	} else {
		c.signal()
	}
	return nil
}

// WithoutUser returns how many IDs are kept without a user.
func (c *Cleaner) WithoutUser() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.orphans
}

// AdoptedOrphans tells the Cleaner that the IDs kept without a user were
// queued for a fallback user; Queued counts them for that user.
func (c *Cleaner) AdoptedOrphans() {
	c.mu.Lock()
	c.orphans = 0
	c.mu.Unlock()
}
