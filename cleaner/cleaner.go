package cleaner

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Cleaner delivers the entry IDs of a Queue to INUBIT, one call per user
// and batch. Create one with New, start delivery with Run; all methods
// are safe for concurrent use.
type Cleaner struct {
	logger *zap.Logger
	now    func() time.Time
	wake   chan struct{}
	queue  Queue

	mu       sync.Mutex
	cfg      Config
	endpoint *url.URL
	client   *http.Client
	users    map[string]*userState
	inFlight int
}

// userState is the delivery state of one user with queued IDs.
type userState struct {
	pending  int       // IDs queued
	busy     bool      // a call for this user is in flight
	attempts int       // failed calls since the last success
	due      time.Time // earliest time of the next call
}

// New returns a Cleaner for cfg that delivers what queue holds, including
// what it held before. It sends nothing until Run is called.
func New(cfg Config, queue Queue, logger *zap.Logger) (*Cleaner, error) {
	c := &Cleaner{
		logger: logger,
		now:    time.Now,
		wake:   make(chan struct{}, 1),
		queue:  queue,
		users:  make(map[string]*userState),
	}
	if err := c.Configure(cfg); err != nil {
		return nil, err
	}
	counts, err := queue.PendingCounts()
	if err != nil {
		return nil, fmt.Errorf("reading queued clears: %w", err)
	}
	c.Queued(counts)
	return c, nil
}

// Configure replaces the delivery settings. IDs already queued are sent
// with the new settings, and users waiting out a backoff are retried
// right away, since the new settings may be what they were waiting for.
func (c *Cleaner) Configure(cfg Config) error {
	cfg, endpoint, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cfg, c.endpoint = cfg, endpoint
	c.client = &http.Client{
		Transport: cfg.Transport,
		Timeout:   cfg.Timeout,
		// A redirect would resend the credentials elsewhere; INUBIT
		// does not redirect this call, so treat one as a failure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	now := c.now()
	for _, u := range c.users {
		u.due = now
	}
	c.mu.Unlock()
	c.signal()
	return nil
}

// Enqueue queues ids to be cleared for user and wakes delivery once the
// queue holds them.
func (c *Cleaner) Enqueue(user string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	added, err := c.queue.Add(map[string][]string{user: ids})
	if err != nil {
		return err
	}
	c.Queued(added)
	return nil
}

// Queued tells the Cleaner that the queue gained IDs, per user; callers
// that write the queue themselves (together with other state) call it
// after their write. IDs for the empty user cannot be sent, since INUBIT
// requires a user: they stay in the queue, are counted, and logged.
func (c *Cleaner) Queued(added map[string]int) {
	c.mu.Lock()
	for user, n := range added {
		if user == "" || n == 0 {
			continue
		}
		u := c.users[user]
		if u == nil {
			u = &userState{due: c.now()}
			c.users[user] = u
		}
		u.pending += n
	}
	c.mu.Unlock()
	if n := added[""]; n > 0 {
		c.logger.Warn("entries kept but not cleared: their session showed no user; configure user or fallback_user",
			zap.Int("count", n))
	}
	c.signal()
}

// Pending returns the number of queued IDs per user.
func (c *Cleaner) Pending() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.users))
	for user, u := range c.users {
		out[user] = u.pending
	}
	return out
}

func (c *Cleaner) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run delivers queued IDs until ctx is done. Calls in flight when ctx
// ends are abandoned and their IDs stay queued.
func (c *Cleaner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := c.startDue(ctx, &wg)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}

// idleWait is how long Run sleeps when nothing is due; Enqueue and
// finished calls wake it earlier.
const idleWait = time.Minute

// startDue starts a call for every due user while the concurrency limit
// allows and returns how long to wait before the next one is due.
func (c *Cleaner) startDue(ctx context.Context, wg *sync.WaitGroup) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	wait := idleWait
	for user, u := range c.users {
		if u.busy {
			continue
		}
		if u.pending <= 0 {
			delete(c.users, user)
			continue
		}
		if d := u.due.Sub(now); d > 0 {
			wait = min(wait, d)
			continue
		}
		if c.inFlight >= c.cfg.Concurrency {
			break
		}
		u.busy = true
		c.inFlight++
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.deliver(ctx, user)
		}()
	}
	return max(wait, time.Millisecond)
}

// deliver sends one batch of user's queued IDs and records the outcome.
func (c *Cleaner) deliver(ctx context.Context, user string) {
	c.mu.Lock()
	cfg, endpoint, client := c.cfg, c.endpoint, c.client
	c.mu.Unlock()

	ids, err := c.queue.Peek(user, cfg.BatchSize)
	status, hint, latency := 0, "", time.Duration(0)
	if err == nil && len(ids) > 0 {
		start := c.now()
		status, hint, err = c.post(ctx, cfg, endpoint, client, user, ids)
		latency = c.now().Sub(start)
	}
	ok := err == nil && (status == http.StatusOK || len(ids) == 0)
	if ok && len(ids) > 0 {
		if rerr := c.queue.Remove(user, ids); rerr != nil {
			// INUBIT has them; a repeat is harmless, a loss is not.
			c.logger.Error("cannot remove cleared entries from the queue; they will be sent again",
				zap.String("user", user), zap.Int("count", len(ids)), zap.Error(rerr))
		}
	}

	c.mu.Lock()
	u := c.users[user]
	u.busy = false
	c.inFlight--
	var attempts int
	var next time.Duration
	switch {
	case ok && len(ids) == 0:
		u.pending = 0 // the count was stale; nothing is queued
	case ok:
		u.pending -= len(ids)
		u.attempts = 0
		u.due = c.now()
	default:
		u.attempts++
		attempts = u.attempts
		next = backoff(u.attempts, cfg.RetryMin, cfg.RetryMax)
		u.due = c.now().Add(next)
	}
	c.mu.Unlock()
	c.signal()
	if ok && len(ids) == 0 {
		return
	}

	switch {
	case ok:
		c.logger.Info("entries cleared",
			zap.String("user", user), zap.Int("count", len(ids)),
			zap.Int("status", status), zap.Duration("latency", latency))
	case ctx.Err() != nil:
		// Shutting down: the IDs stay queued, nothing to report.
	default:
		fields := []zap.Field{
			zap.String("user", user), zap.Int("count", len(ids)),
			zap.Int("attempt", attempts), zap.Duration("retry_in", next),
		}
		if err != nil {
			fields = append(fields, zap.Error(err))
		} else {
			fields = append(fields, zap.Int("status", status), zap.String("response", hint))
		}
		c.logger.Warn("clear call failed; will retry", fields...)
	}
}

// post performs the clear call and returns INUBIT's status and, for a
// failure, a short excerpt of its answer.
func (c *Cleaner) post(ctx context.Context, cfg Config, endpoint *url.URL, client *http.Client, user string, ids []string) (int, string, error) {
	req, err := newClearRequest(ctx, cfg, endpoint, user, ids)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	hint := ""
	if resp.StatusCode != http.StatusOK {
		hint = responseHint(resp.Body)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, hint, nil
}
