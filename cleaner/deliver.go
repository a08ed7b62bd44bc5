package cleaner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"go.uber.org/zap"
)

// outcome classifies INUBIT's answer to a clear call.
type outcome int

const (
	delivered    outcome = iota // 200: the IDs are cleared
	transient                   // other 5xx, timeout, connection error: back off
	maintenance                 // 503: INUBIT is in maintenance mode
	unauthorized                // 401, 403: the service account is refused
	refused                     // 404 and other 4xx: a config mistake or a bad batch
)

func classify(status int, err error) outcome {
	switch {
	case err != nil:
		return transient
	case status == http.StatusOK:
		return delivered
	case status == http.StatusServiceUnavailable:
		return maintenance
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return unauthorized
	case status >= 400 && status < 500:
		return refused
	default:
		return transient
	}
}

// refusalsToPark is how often INUBIT must refuse a single entry, while
// other calls succeed, before the entry is parked.
const refusalsToPark = 2

// deliver sends one batch of user's queued IDs and records the outcome.
func (c *Cleaner) deliver(ctx context.Context, user string) {
	c.mu.Lock()
	cfg, endpoint, client, generation := c.cfg, c.endpoint, c.client, c.generation
	size := cfg.BatchSize
	u := c.users[user]
	if u.limit > 0 {
		size = min(size, u.limit)
	}
	suspect := u.suspect
	confirm := suspect != "" && c.lastSuccess.After(u.refusedSince)
	c.mu.Unlock()

	ids, err := c.nextBatch(user, size, suspect, confirm)
	if err != nil || len(ids) == 0 {
		c.finish(user, func(u *userState) {
			if err == nil {
				u.pending = 0 // the count was stale; nothing is queued
				return
			}
			u.due = c.now().Add(cfg.RetryMin)
		})
		if err != nil {
			c.recordQueueError(user, err)
			c.logger.Error("cannot read the clear queue from storage; will retry",
				zap.String("user", user), zap.Error(err))
		}
		return
	}

	start := c.now()
	status, hint, err := c.post(ctx, cfg, endpoint, client, user, ids)
	latency := c.now().Sub(start)
	result := classify(status, err)
	if ctx.Err() != nil {
		c.finish(user, func(*userState) {}) // shutting down: all stays queued
		return
	}
	c.recordCall(user, status, hint, err)

	fields := []zap.Field{zap.String("user", user), zap.Int("count", len(ids)),
		zap.Int("status", status), zap.Duration("latency", latency)}
	if err != nil { // no answer, so no status and no latency worth reading
		fields = append(fields[:2], zap.Error(err))
	} else if hint != "" {
		fields = append(fields, zap.String("response", hint))
	}

	switch result {
	case delivered:
		if rerr := c.queue.Remove(user, ids); rerr != nil {
			// INUBIT has them; a repeat is harmless, a loss is not.
			c.logger.Error("cannot remove cleared entries from the queue; they will be sent again",
				zap.String("user", user), zap.Int("count", len(ids)), zap.Error(rerr))
		}
		c.finish(user, func(u *userState) {
			u.pending -= len(ids)
			u.attempts = 0
			if len(ids) == 1 && ids[0] == u.suspect {
				u.suspect = "" // accepted after all
			}
			if u.limit > 0 {
				// A split is under way: grow back, and keep counting
				// refusals until the full size works again.
				u.limit *= 2
				if u.limit >= cfg.BatchSize {
					u.limit = 0
				}
			}
			if u.limit == 0 && u.suspect == "" {
				u.refusals, u.refusedSince = 0, time.Time{}
			}
			u.due = c.now()
			c.lastSuccess = c.now()
			c.cleared += uint64(len(ids))
			c.gate.opened()
		})
		c.logger.Info("entries cleared", fields...)

	// The gate closes in the same critical section that frees the user:
	// else the loop, woken by finish, could start the user's next call
	// before the gate is closed.
	case maintenance:
		c.finish(user, func(u *userState) {
			u.due = c.now()
			c.gate.enterMaintenance(c.now(), c.cfg.MaintenanceProbe)
		})

	case unauthorized:
		c.finish(user, func(u *userState) {
			u.due = c.now()
			if generation == c.generation { // else new credentials came meanwhile
				c.gate.refuseAuth(c.now(), cfg.AuthRetry, cfg.Username, status)
			}
		})

	case refused:
		c.refuse(user, ids, status, hint, cfg, fields)

	default:
		var next time.Duration
		var attempts int
		c.finish(user, func(u *userState) {
			u.attempts++
			attempts = u.attempts
			next = backoff(u.attempts, cfg.RetryMin, cfg.RetryMax)
			u.due = c.now().Add(next)
		})
		c.logger.Warn(transientMessage(status, err),
			append(fields, zap.Int("attempt", attempts), zap.Duration("retry_in", next))...)
	}
}

// nextBatch picks the IDs of user's next call: the head of the queue;
// while a suspect entry is known, the entries behind it without it, or
// the suspect alone once another call has succeeded (confirm).
func (c *Cleaner) nextBatch(user string, size int, suspect string, confirm bool) ([]string, error) {
	if confirm {
		return []string{suspect}, nil
	}
	if suspect == "" {
		return c.queue.Peek(user, size)
	}
	ids, err := c.queue.Peek(user, size+1)
	if err != nil {
		return nil, err
	}
	rest := slices.DeleteFunc(ids, func(id string) bool { return id == suspect })
	if len(rest) == 0 {
		return []string{suspect}, nil
	}
	return rest[:min(len(rest), size)], nil
}

// refuse handles a 4xx other than 401/403: the batch is split in halves
// until the refused entry is alone; an entry refused alone while other
// calls succeed is parked. If nothing succeeds, it is more likely a
// config mistake (a wrong endpoint path): everything stays queued.
func (c *Cleaner) refuse(user string, ids []string, status int, hint string, cfg Config, fields []zap.Field) {
	var park bool
	var next time.Duration
	c.finish(user, func(u *userState) {
		now := c.now()
		if u.refusedSince.IsZero() {
			u.refusedSince = now
		}
		u.attempts++
		next = backoff(u.attempts, cfg.RetryMin, cfg.RetryMax)
		if len(ids) > 1 {
			u.limit = len(ids) / 2
			next = cfg.RetryMin
		} else {
			u.refusals++
			park = u.refusals >= refusalsToPark && c.lastSuccess.After(u.refusedSince)
			if !park {
				// Try the entries behind it at once, the first time:
				// if they go through, this one is the bad entry.
				u.suspect = ids[0]
				if u.refusals == 1 {
					next = cfg.RetryMin
				}
			}
		}
		u.due = now.Add(next)
	})
	if !park {
		c.logger.Warn("INUBIT refused a clear call; will retry (a wrong endpoint path gives 404 for every call)",
			append(fields, zap.Int("next_batch_size", max(len(ids)/2, 1)), zap.Duration("retry_in", next))...)
		return
	}
	reason := fmt.Sprintf("%d %s", status, http.StatusText(status))
	if hint != "" {
		reason += ": " + hint
	}
	if err := c.queue.Park(user, ids[0], reason); err != nil {
		c.logger.Error("cannot park a refused entry; it stays queued", zap.String("user", user), zap.Error(err))
		return
	}
	c.mu.Lock()
	c.parked++
	if u := c.users[user]; u != nil {
		u.pending--
		u.refusals, u.refusedSince, u.attempts = 0, time.Time{}, 0
		u.suspect = ""
		u.due = c.now()
	}
	c.mu.Unlock()
	c.signal()
	c.logger.Error("INUBIT keeps refusing one entry while others are cleared; parked it (kept, not retried)",
		zap.String("user", user), zap.String("id", ids[0]), zap.String("reason", reason))
}

// transientMessage says what a failed call that is retried with backoff
// points at, so that the log line tells what to check. Every such
// message starts with "clear call failed: ".
func transientMessage(status int, err error) string {
	switch {
	case callOutcome(status, err) == OutcomeTimeout:
		return "clear call failed: timed out; will retry (INUBIT slow or unreachable: check the " +
			"endpoint, the network path, and timeout)"
	case err != nil:
		return "clear call failed: INUBIT unreachable; will retry (check the endpoint's host and port, " +
			"DNS, firewalls and, for https, tls_ca)"
	case status >= 300 && status < 400:
		return "clear call failed: INUBIT redirected it, which is not followed; will retry (check the " +
			"endpoint URL, e.g. http instead of https)"
	case status >= 500:
		return "clear call failed: INUBIT answered with a server error; will retry (its own log has " +
			"the details)"
	default:
		return "clear call failed: unexpected answer; will retry (is the endpoint INUBIT's clear call?)"
	}
}

// finish marks user's call as done and applies update under the lock.
func (c *Cleaner) finish(user string, update func(*userState)) {
	c.mu.Lock()
	u := c.users[user]
	u.busy = false
	c.inFlight--
	update(u)
	c.mu.Unlock()
	c.signal()
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
		return 0, "", withoutQuery(err)
	}
	defer resp.Body.Close()
	hint := ""
	if resp.StatusCode != http.StatusOK {
		hint = responseHint(resp.Body)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, hint, nil
}

// withoutQuery drops the query from the URL that net/http puts in its
// errors: the endpoint's own parameters may carry a token, and errors
// are logged.
func withoutQuery(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if u, perr := url.Parse(uerr.URL); perr == nil && u.RawQuery != "" {
			u.RawQuery = ""
			uerr.URL = u.String() + "?…"
		}
	}
	return err
}
