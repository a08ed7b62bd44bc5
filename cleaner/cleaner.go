package cleaner

import (
	"context"
	"fmt"
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
	gate     gate
	// generation counts Configure calls, so that an answer to a call
	// made with old settings does not judge the new ones.
	generation int
	// lastSuccess is when INUBIT last acknowledged a call.
	lastSuccess time.Time

	// counters and state for Stats
	calls       map[string]uint64 // calls by outcome
	cleared     uint64            // IDs acknowledged
	parked      int               // IDs parked
	orphans     int               // IDs kept without a user
	lastFailure Failure
}

// userState is the delivery state of one user with queued IDs.
type userState struct {
	pending  int       // IDs queued
	busy     bool      // a call for this user is in flight
	attempts int       // failed calls since the last success
	due      time.Time // earliest time of the next call
	// limit is the batch size while a refused batch is being split to
	// find the entry INUBIT refuses; 0 means the configured size.
	limit int
	// refusedSince is when INUBIT first refused this user's batch with
	// a 4xx; refusals count against an entry only if other calls
	// succeeded since.
	refusedSince time.Time
	refusals     int
	// suspect is an entry INUBIT refused on its own that could not be
	// parked yet, because no call had succeeded since the refusals
	// began. The entries queued behind it are sent without it; once
	// one of those calls succeeds, the suspect is sent alone again.
	suspect string
	// since is when pending last rose from zero: the start of this
	// user's wait (see Stats.OldestPending).
	since time.Time
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
		calls:  make(map[string]uint64),
	}
	c.gate = gate{logger: logger}
	if err := c.Configure(cfg); err != nil {
		return nil, err
	}
	counts, err := queue.PendingCounts()
	if err != nil {
		return nil, fmt.Errorf("reading queued clears: %w", err)
	}
	since, err := queue.PendingSince()
	if err != nil {
		return nil, fmt.Errorf("reading queued clears: %w", err)
	}
	if c.parked, err = queue.ParkedCount(); err != nil {
		return nil, fmt.Errorf("reading parked entries: %w", err)
	}
	c.Queued(counts)
	c.mu.Lock()
	for user, t := range since {
		if u := c.users[user]; u != nil && t.Before(u.since) {
			u.since = t
		}
	}
	c.mu.Unlock()
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
	c.generation++
	previous := c.client
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
	c.gate.reconfigured()
	c.mu.Unlock()
	if previous != nil {
		// Every Configure brings a new transport; calls in flight
		// finish on the old one, its idle connections go now.
		previous.CloseIdleConnections()
	}
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
		if u.pending <= 0 {
			u.since = c.now()
		}
		u.pending += n
	}
	c.orphans += added[""]
	c.mu.Unlock()
	if n := added[""]; n > 0 {
		c.logger.Warn("entries kept but not cleared: their session showed no user; configure user or fallback_user",
			zap.Int("count", n))
	}
	c.signal()
}

// Endpoint returns the endpoint calls currently go to.
func (c *Cleaner) Endpoint() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.Endpoint
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
	if d, probe := c.gate.closedFor(now); d > 0 || probe {
		if probe && !c.gate.probing {
			c.gate.probing = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.probe(ctx)
			}()
		}
		return max(d, time.Millisecond)
	}
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
