package cleaner

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Cleaner queues entry IDs per user and delivers them to INUBIT. Create
// one with New, start delivery with Run; all methods are safe for
// concurrent use.
type Cleaner struct {
	logger *zap.Logger
	now    func() time.Time
	wake   chan struct{}

	mu       sync.Mutex
	cfg      Config
	endpoint *url.URL
	client   *http.Client
	users    map[string]*userQueue
	orphans  []string // IDs whose session never showed a user
	inFlight int
}

// New returns a Cleaner for cfg. It sends nothing until Run is called.
func New(cfg Config, logger *zap.Logger) (*Cleaner, error) {
	c := &Cleaner{
		logger: logger,
		now:    time.Now,
		wake:   make(chan struct{}, 1),
		users:  make(map[string]*userQueue),
	}
	if err := c.Configure(cfg); err != nil {
		return nil, err
	}
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
	for _, q := range c.users {
		q.due = now
	}
	c.mu.Unlock()
	c.signal()
	return nil
}

// Enqueue queues ids to be cleared for user. IDs with an empty user
// cannot be sent (INUBIT requires the user); they are kept aside, counted
// and logged, never silently dropped.
func (c *Cleaner) Enqueue(user string, ids []string) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	if user == "" {
		c.orphans = append(c.orphans, ids...)
		total := len(c.orphans)
		c.mu.Unlock()
		c.logger.Warn("entries kept but not cleared: their session showed no user; configure user or fallback_user",
			zap.Int("count", len(ids)), zap.Int("kept_total", total))
		return
	}
	q := c.users[user]
	if q == nil {
		q = newUserQueue()
		q.due = c.now()
		c.users[user] = q
	}
	q.add(ids)
	c.mu.Unlock()
	c.signal()
}

// Pending returns the number of queued IDs per user.
func (c *Cleaner) Pending() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.users))
	for user, q := range c.users {
		out[user] = len(q.ids)
	}
	return out
}

// Orphans returns the IDs kept because no user was known for them.
func (c *Cleaner) Orphans() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.orphans...)
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
	for user, q := range c.users {
		if q.busy {
			continue
		}
		if len(q.ids) == 0 {
			delete(c.users, user)
			continue
		}
		if d := q.due.Sub(now); d > 0 {
			wait = min(wait, d)
			continue
		}
		if c.inFlight >= c.cfg.Concurrency {
			break
		}
		q.busy = true
		c.inFlight++
		batch := q.batch(c.cfg.BatchSize)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.deliver(ctx, user, batch)
		}()
	}
	return max(wait, time.Millisecond)
}

// deliver sends one batch and records the outcome.
func (c *Cleaner) deliver(ctx context.Context, user string, ids []string) {
	c.mu.Lock()
	cfg, endpoint, client := c.cfg, c.endpoint, c.client
	c.mu.Unlock()

	start := c.now()
	status, hint, err := c.post(ctx, cfg, endpoint, client, user, ids)
	latency := c.now().Sub(start)

	c.mu.Lock()
	q := c.users[user]
	q.busy = false
	c.inFlight--
	ok := err == nil && status == http.StatusOK
	var attempts int
	var next time.Duration
	if ok {
		q.remove(ids)
		q.attempts = 0
		q.due = c.now()
	} else {
		q.attempts++
		attempts = q.attempts
		next = backoff(q.attempts, cfg.RetryMin, cfg.RetryMax)
		q.due = c.now().Add(next)
	}
	c.mu.Unlock()
	c.signal()

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
