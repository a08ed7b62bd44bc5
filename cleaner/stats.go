package cleaner

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// What holds every clear call back, as Stats.Paused tells it.
const (
	// PauseMaintenance: INUBIT answered 503; only its health check is
	// asked until maintenance is over.
	PauseMaintenance = gateMaintenance
	// PauseAuth: INUBIT refused the service account; calls wait for
	// AuthRetry or new settings.
	PauseAuth = gateAuth
)

// Outcomes of a clear call other than an HTTP status, as counted in
// Stats.Calls.
const (
	// OutcomeTimeout: no answer within Config.Timeout.
	OutcomeTimeout = "timeout"
	// OutcomeError: no answer for another reason (connection refused,
	// DNS, TLS, a broken response).
	OutcomeError = "error"
)

// Stats is a snapshot of a Cleaner's counters and delivery state, for
// metrics and the admin API. It holds no credentials and no entry IDs.
type Stats struct {
	// Calls counts clear calls by outcome: INUBIT's status code as text
	// ("200", "503", ...), OutcomeTimeout or OutcomeError. Calls cut
	// short by a shutdown are not counted.
	Calls map[string]uint64
	// Cleared counts the IDs INUBIT acknowledged with 200.
	Cleared uint64
	// Pending is the number of IDs queued for a user.
	Pending int
	// WithoutUser is the number of IDs kept without a user: not sent,
	// since INUBIT requires one, until a fallback user adopts them.
	WithoutUser int
	// Parked is the number of IDs parked after INUBIT kept refusing
	// them.
	Parked int
	// OldestPending is the start of the longest wait among users with
	// queued IDs: when that user's queue was last empty, or, for a queue
	// restored from storage, when its oldest ID was queued. The oldest
	// pending ID is at most that old. Zero when nothing is pending.
	OldestPending time.Time
	// Paused says what holds every call back: "", PauseMaintenance or
	// PauseAuth.
	Paused string
	// PausedUntil is when the next health check (maintenance) or the
	// next try (auth) is due; zero unless Paused.
	PausedUntil time.Time
	// InFlight is the number of calls in flight.
	InFlight int
	// LastSuccess is when INUBIT last acknowledged a call; zero if never.
	LastSuccess time.Time
	// LastFailure is the latest failed call; its Time is zero if none
	// failed since the Cleaner started.
	LastFailure Failure
}

// Failure describes a failed clear call or queue access.
type Failure struct {
	// Time of the failure.
	Time time.Time `json:"time"`
	// User whose IDs the call carried.
	User string `json:"user"`
	// Outcome is the call's key in Stats.Calls, or "queue" when the
	// queue could not be read.
	Outcome string `json:"outcome"`
	// Message is INUBIT's status with a short excerpt of its answer, or
	// the error without the request URL.
	Message string `json:"message"`
}

// UserStatus is the delivery state of one user with queued IDs.
type UserStatus struct {
	// User is the INUBIT user the IDs are cleared for.
	User string `json:"user"`
	// Pending is the number of IDs queued for User.
	Pending int `json:"pending"`
	// FailedAttempts counts failed calls since the last success.
	FailedAttempts int `json:"failed_attempts"`
	// NextTry is when the next call is due, if later than now.
	NextTry time.Time `json:"next_try,omitzero"`
	// InFlight is true while a call for User is under way.
	InFlight bool `json:"in_flight"`
	// WaitingSince is when User's queue was last empty (see
	// Stats.OldestPending).
	WaitingSince time.Time `json:"waiting_since"`
}

// outcomeQueue marks a Failure that was reading the queue, not a call.
const outcomeQueue = "queue"

// Stats returns the Cleaner's counters and delivery state.
func (c *Cleaner) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{
		Calls:       maps.Clone(c.calls),
		Cleared:     c.cleared,
		WithoutUser: c.orphans,
		Parked:      c.parked,
		InFlight:    c.inFlight,
		LastSuccess: c.lastSuccess,
		LastFailure: c.lastFailure,
	}
	for _, u := range c.users {
		if u.pending <= 0 {
			continue
		}
		s.Pending += u.pending
		if s.OldestPending.IsZero() || u.since.Before(s.OldestPending) {
			s.OldestPending = u.since
		}
	}
	if c.gate.reason != "" {
		s.Paused, s.PausedUntil = c.gate.reason, c.gate.until
	}
	return s
}

// Users returns the delivery state of every user with queued IDs,
// ordered by user.
func (c *Cleaner) Users() []UserStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	out := make([]UserStatus, 0, len(c.users))
	for user, u := range c.users {
		if u.pending <= 0 {
			continue
		}
		st := UserStatus{User: user, Pending: u.pending, FailedAttempts: u.attempts,
			InFlight: u.busy, WaitingSince: u.since}
		if u.due.After(now) {
			st.NextTry = u.due
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b UserStatus) int { return strings.Compare(a.User, b.User) })
	return out
}

// recordCall counts a call's outcome and remembers it if it failed.
func (c *Cleaner) recordCall(user string, status int, hint string, err error) {
	outcome := callOutcome(status, err)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[outcome]++
	if outcome != strconv.Itoa(http.StatusOK) {
		c.lastFailure = Failure{Time: c.now(), User: user, Outcome: outcome,
			Message: failureMessage(status, hint, err)}
	}
}

// recordQueueError remembers that user's queue could not be read.
func (c *Cleaner) recordQueueError(user string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastFailure = Failure{Time: c.now(), User: user, Outcome: outcomeQueue,
		Message: "reading the clear queue: " + err.Error()}
}

// callOutcome labels a call: INUBIT's status code, or how it failed
// without one. The set is bounded: status codes are three digits.
func callOutcome(status int, err error) string {
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return OutcomeTimeout
		}
		return OutcomeError
	}
	if status < 100 || status > 599 {
		return OutcomeError
	}
	return strconv.Itoa(status)
}

// failureMessage says why a call failed. A transport error loses its
// URL, which repeats the endpoint and the user.
func failureMessage(status int, hint string, err error) string {
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err.Error()
	}
	msg := fmt.Sprintf("%d %s", status, http.StatusText(status))
	if hint != "" {
		msg += ": " + hint
	}
	return msg
}
