package inubitsessions

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// JSON configs skip the Caddyfile parser; check must catch the same
// mistakes and name the field as the Caddyfile does.
func TestCheckRejectsBadBoundsByName(t *testing.T) {
	for field, set := range map[string]func(*Handler){
		"max_sessions: must not be negative":         func(h *Handler) { h.MaxSessions = -1 },
		"max_ids_per_session: must not be negative":  func(h *Handler) { h.MaxIDsPerSession = -5 },
		"max_cookie_length: must not be negative":    func(h *Handler) { h.MaxCookieLength = -1 },
		"max_scan_bytes: must not be negative":       func(h *Handler) { h.MaxScanBytes = -1 },
		"max_ids_without_user: must not be negative": func(h *Handler) { h.MaxIDsWithoutUser = -1 },
		"max_id_length: 513 is over":                 func(h *Handler) { h.MaxIDLength = 513 },
	} {
		h := &Handler{BasicAuth: &BasicAuth{Username: "svc"}, SessionCookie: DefaultSessionCookie}
		set(h)
		err := h.check()
		require.Error(t, err, field)
		assert.Contains(t, err.Error(), field)
	}
}

func TestBoundsDefaults(t *testing.T) {
	h := &Handler{MaxSessions: 10}
	h.fillLimitDefaults()
	assert.Equal(t, 10, h.MaxSessions, "a configured bound is kept")
	assert.Equal(t, DefaultMaxIDsPerSession, h.MaxIDsPerSession)
	assert.Equal(t, DefaultMaxCookieLength, h.MaxCookieLength)
	assert.Equal(t, DefaultMaxIDLength, h.MaxIDLength)
	assert.Equal(t, int64(DefaultMaxScanBytes), h.MaxScanBytes)
	ts := h.trackerSettings()
	assert.Equal(t, 10, ts.limits.MaxSessions)
	assert.Equal(t, DefaultMaxIDsPerSession, ts.limits.MaxIDsPerSession)
}

// A full session table must not lose entries: the session pushed out
// is cleared at INUBIT like one that timed out.
func TestSessionPushedOutByMaxSessionsIsCleared(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir(), MaxSessions: 2}
	provisionForTest(t, h)
	base := time.Now()
	step := 0
	h.now = func() time.Time { step++; return base.Add(time.Duration(step) * time.Second) }

	ids := []string{
		"webform@@@OrderWAC/form_a(1)_orderapp@@@1.xml",
		"webform@@@OrderWAC/form_b(1)_orderapp@@@2.xml",
		"webform@@@OrderWAC/form_c(1)_orderapp@@@3.xml",
	}
	serveForTest(t, h, "S1", "anna", "/form", idHeader(ids[0]), nil)
	serveForTest(t, h, "S2", "ben", "/form", idHeader(ids[1]), nil)
	serveForTest(t, h, "S3", "carl", "/form", idHeader(ids[2]), nil)

	calls := waitCalls(stub, 1, 5*time.Second)
	require.Len(t, calls, 1, "the least recently seen session is cleared")
	assert.Equal(t, stubCall{user: "anna", body: ids[0]}, calls[0])
	assert.Equal(t, 2, h.state.tracker.Len())
	assert.Equal(t, int64(1), h.state.tracker.Counts().Evicted)
}

// Regression (disk filled by anyone): entries of sessions that never
// showed a user were kept without any bound, so logouts with invented
// cookies and IDs grew the store without end.
func TestIDsWithoutUserAreBounded(t *testing.T) {
	_, srv := newStubINUBIT(t)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir(), MaxIDsWithoutUser: 2, Logout: []string{"/logout"}}
	provisionForTest(t, h)
	for i, id := range []string{
		"webform@@@OrderWAC/form_a(1)_app@@@1.xml",
		"webform@@@OrderWAC/form_b(1)_app@@@2.xml",
		"webform@@@OrderWAC/form_c(1)_app@@@3.xml",
	} {
		serveForTest(t, h, "ANON"+string(rune('A'+i)), "", "/logout", idHeader(id), nil)
	}
	require.Eventually(t, func() bool {
		return h.state.refused.counts()["id_without_user_over_limit"] == 1
	}, 5*time.Second, 5*time.Millisecond)
	// the refusal is counted before the kept IDs are written
	assert.Eventually(t, func() bool { return h.state.cleaner.WithoutUser() == 2 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 2, h.state.cleaner.Stats().WithoutUser)
	assert.Equal(t, int64(1), h.state.refused.counts()["id_without_user_over_limit"])
}
