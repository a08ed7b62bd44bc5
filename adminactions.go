package inubitsessions

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
	"github.com/inubit-caddy/caddy-inubit-sessions/store"
)

// serveRetry answers POST /inubit_sessions/retry: every selected state's
// delivery tries again now, without waiting out backoff, a maintenance
// pause or a refused-credentials pause.
func serveRetry(w http.ResponseWriter, _ *http.Request, selected []*state) error {
	if len(selected) == 0 {
		return adminError(http.StatusNotFound, "no inubit_sessions handler is running")
	}
	type retried struct {
		// Storage whose delivery was retried.
		Storage string `json:"storage"`
		// PauseLifted is "maintenance" or "auth" if delivery was paused.
		PauseLifted string `json:"pause_lifted,omitempty"`
	}
	out := struct {
		// Retried lists the storages whose delivery was woken.
		Retried []retried `json:"retried"`
	}{}
	for _, st := range selected {
		out.Retried = append(out.Retried, retried{Storage: st.dir, PauseLifted: st.cleaner.RetryNow()})
	}
	return writeJSON(w, out)
}

// releaseRequest is the body of POST /inubit_sessions/release.
type releaseRequest struct {
	// ID is the parked entry to release.
	ID string `json:"id"`
	// User narrows the release to one user's parked entries.
	User string `json:"user"`
	// All releases every parked entry (of User, if given) instead of ID.
	All bool `json:"all"`
}

// releasedEntry is one entry a release queued again.
type releasedEntry struct {
	// Storage holds the entry.
	Storage string `json:"storage"`
	// User the entry is cleared for.
	User string `json:"user"`
	// ID of the entry.
	ID string `json:"id"`
}

// maxAdminBody bounds the body of an admin request.
const maxAdminBody = 64 << 10

// serveRelease answers POST /inubit_sessions/release: parked entries are
// queued again and sent with their user's next call.
func serveRelease(w http.ResponseWriter, r *http.Request, selected []*state) error {
	req, err := readReleaseRequest(r.Body)
	if err != nil {
		return err
	}
	if len(selected) == 0 {
		return adminError(http.StatusNotFound, "no inubit_sessions handler is running")
	}
	matches, err := parkedMatching(selected, req)
	if err != nil {
		return err
	}
	if !req.All {
		switch {
		case len(matches) == 0 && req.User != "":
			return adminError(http.StatusNotFound, "id: %q is not parked for user %q", req.ID, req.User)
		case len(matches) == 0:
			return adminError(http.StatusNotFound, "id: %q is not parked", req.ID)
		case len(matches) > 1:
			return adminError(http.StatusBadRequest, "id: %q is parked %d times (%s); "+
				"name the user, or the storage with ?storage=", req.ID, len(matches), describe(matches))
		}
	}
	out := struct {
		// Released lists the entries queued again.
		Released []releasedEntry `json:"released"`
	}{Released: []releasedEntry{}}
	for _, m := range matches {
		err := m.st.cleaner.Release(m.User, m.ID)
		switch {
		case errors.Is(err, store.ErrNotParked) && req.All:
			continue // released meanwhile
		case errors.Is(err, store.ErrNotParked):
			return adminError(http.StatusNotFound, "id: %q is no longer parked", req.ID)
		case err != nil:
			return fmt.Errorf("storage %s: releasing %q of user %q: %w", m.st.dir, m.ID, m.User, err)
		}
		out.Released = append(out.Released, releasedEntry{Storage: m.st.dir, User: m.User, ID: m.ID})
	}
	return writeJSON(w, out)
}

// readReleaseRequest decodes and checks a release body.
func readReleaseRequest(body io.Reader) (releaseRequest, error) {
	var req releaseRequest
	dec := json.NewDecoder(io.LimitReader(body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, adminError(http.StatusBadRequest,
			`body: want JSON {"id": "webform@@@…", "user": "…"} or {"all": true}: %v`, err)
	}
	switch {
	case req.ID == "" && !req.All:
		return req, adminError(http.StatusBadRequest, `body: give "id" (optionally with "user"), or "all": true`)
	case req.ID != "" && req.All:
		return req, adminError(http.StatusBadRequest, `body: give "id" or "all", not both`)
	case req.ID != "" && !sessiontracker.IsEntryID(req.ID):
		return req, adminError(http.StatusBadRequest,
			"id: %q is not an INUBIT entry ID (webform@@@<path>@@@<number>.xml)", req.ID)
	}
	return req, nil
}

// parkedMatch is a parked entry of one state.
type parkedMatch struct {
	st *state
	store.ParkedEntry
}

// parkedMatching lists the parked entries of the selected states that
// req names.
func parkedMatching(selected []*state, req releaseRequest) ([]parkedMatch, error) {
	var out []parkedMatch
	for _, st := range selected {
		parked, err := st.store.Parked()
		if err != nil {
			return nil, fmt.Errorf("storage %s: listing parked entries: %w", st.dir, err)
		}
		for _, p := range parked {
			if (req.All || p.ID == req.ID) && (req.User == "" || p.User == req.User) {
				out = append(out, parkedMatch{st: st, ParkedEntry: p})
			}
		}
	}
	return out, nil
}

// describe names where matches are parked: user and storage.
func describe(matches []parkedMatch) string {
	parts := make([]string, len(matches))
	for i, m := range matches {
		parts[i] = fmt.Sprintf("user %q in %s", m.User, m.st.dir)
	}
	return strings.Join(parts, ", ")
}
