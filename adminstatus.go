package inubitsessions

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/inubit-caddy/caddy-inubit-sessions/cleaner"
	"github.com/inubit-caddy/caddy-inubit-sessions/store"
)

// storageStatus is the admin API's view of one storage's state.
type storageStatus struct {
	// Storage is the storage directory, which ?storage= selects.
	Storage string `json:"storage"`
	// Endpoint is where clear calls go, without its query.
	Endpoint string `json:"endpoint"`
	// Sessions is the number of browser sessions tracked.
	Sessions int `json:"sessions"`
	// Delivery says whether clear calls go out, and how the last went.
	Delivery deliveryStatus `json:"delivery"`
	// Pending lists the users with queued IDs, by user.
	Pending []cleaner.UserStatus `json:"pending"`
	// PendingTotal is the number of queued IDs of all users.
	PendingTotal int `json:"pending_total"`
	// WithoutUser is the number of IDs kept without a user.
	WithoutUser int `json:"without_user"`
	// OldestPendingSeconds is the age of the longest wait, as the
	// oldest_pending_seconds metric gives it.
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
	// Parked lists the entries INUBIT kept refusing.
	Parked []store.ParkedEntry `json:"parked"`
	// Counts are the counters behind the metrics.
	Counts statusCounts `json:"counts"`
}

// deliveryStatus says whether clear calls go out, and how the last went.
type deliveryStatus struct {
	// State is "running", "maintenance" (INUBIT answered 503; only its
	// health check is asked) or "auth_refused" (INUBIT refused the
	// service account; calls wait for auth_retry).
	State string `json:"state"`
	// PausedUntil is the next health check or retry while paused.
	PausedUntil time.Time `json:"paused_until,omitzero"`
	// InFlight is the number of clear calls under way.
	InFlight int `json:"in_flight"`
	// LastSuccess is when INUBIT last acknowledged a call.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// LastError is the latest failed call, if any failed since start.
	LastError *cleaner.Failure `json:"last_error,omitempty"`
}

// statusCounts are the counters behind the metrics, since the state
// started.
type statusCounts struct {
	countsByName
	// ClearCalls counts clear calls by status, timeout or error.
	ClearCalls map[string]uint64 `json:"clear_calls"`
	// IDsCleared counts IDs INUBIT acknowledged.
	IDsCleared uint64 `json:"ids_cleared"`
}

// Delivery states in the status.
const (
	deliveryRunning     = "running"
	deliveryMaintenance = "maintenance"
	deliveryAuthRefused = "auth_refused"
)

// serveStatus answers GET /inubit_sessions/status.
func serveStatus(w http.ResponseWriter, _ *http.Request, selected []*state) error {
	out := struct {
		// Storages lists the selected storages, by directory.
		Storages []storageStatus `json:"storages"`
	}{Storages: make([]storageStatus, 0, len(selected))}
	for _, st := range selected {
		s, err := st.status(time.Now())
		if err != nil {
			return err
		}
		out.Storages = append(out.Storages, s)
	}
	return writeJSON(w, out)
}

// status describes the state at now.
func (st *state) status(now time.Time) (storageStatus, error) {
	parked, err := st.store.Parked()
	if err != nil {
		return storageStatus{}, fmt.Errorf("storage %s: listing parked entries: %w", st.dir, err)
	}
	if parked == nil {
		parked = []store.ParkedEntry{}
	}
	stats := st.cleaner.Stats()
	s := storageStatus{
		Storage:      st.dir,
		Endpoint:     withoutQuery(st.cleaner.Endpoint()),
		Sessions:     st.tracker.Len(),
		Pending:      st.cleaner.Users(),
		PendingTotal: stats.Pending,
		WithoutUser:  stats.WithoutUser,
		Parked:       parked,
		Delivery: deliveryStatus{
			State:       deliveryRunning,
			InFlight:    stats.InFlight,
			LastSuccess: stats.LastSuccess,
		},
		Counts: statusCounts{
			countsByName: st.countsByName(),
			ClearCalls:   stats.Calls,
			IDsCleared:   stats.Cleared,
		},
	}
	if !stats.OldestPending.IsZero() {
		s.OldestPendingSeconds = max(now.Sub(stats.OldestPending).Seconds(), 0)
	}
	switch stats.Paused {
	case cleaner.PauseMaintenance:
		s.Delivery.State, s.Delivery.PausedUntil = deliveryMaintenance, stats.PausedUntil
	case cleaner.PauseAuth:
		s.Delivery.State, s.Delivery.PausedUntil = deliveryAuthRefused, stats.PausedUntil
	}
	if !stats.LastFailure.Time.IsZero() {
		s.Delivery.LastError = &stats.LastFailure
	}
	return s, nil
}

// withoutQuery drops the query and fragment of an endpoint: an operator
// may have put a token there.
func withoutQuery(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
