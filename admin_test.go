package inubitsessions

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2"

	"github.com/inubit-caddy/caddy-inubit-sessions/store"
)

// callAdmin sends one request to the admin routes and returns the status
// and body as Caddy's admin endpoint would, errors as {"error": ...}.
func callAdmin(t *testing.T, method, target, body string) (int, string, http.Header) {
	t.Helper()
	w := httptest.NewRecorder()
	err := (&AdminAPI{}).serve(w, httptest.NewRequest(method, target, strings.NewReader(body)))
	if err == nil {
		return w.Code, w.Body.String(), w.Header()
	}
	var apiErr caddy.APIError
	require.True(t, errors.As(err, &apiErr), "admin errors are APIErrors: %v", err)
	return apiErr.HTTPStatus, apiErr.Err.Error(), w.Header()
}

// statusOf returns the status of storage.
func statusOf(t *testing.T, storage string) storageStatus {
	t.Helper()
	code, body, _ := callAdmin(t, http.MethodGet, "/inubit_sessions/status?storage="+url.QueryEscape(storage), "")
	require.Equal(t, http.StatusOK, code, body)
	var out struct {
		Storages []storageStatus `json:"storages"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &out))
	require.Len(t, out.Storages, 1)
	return out.Storages[0]
}

// The status shows a storage's sessions, the users waiting with their
// backlog, the pause and the last error, and no password or cookie.
func TestAdminStatus(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	stub.setStatus(http.StatusServiceUnavailable)
	h := &Handler{Endpoint: srv.URL + "/ibis/rest/webapp/session/instances?token=abc", Storage: t.TempDir(),
		Logout: []string{"/logout"}, BasicAuth: &BasicAuth{Username: "svc", Password: metricsPassword}}
	provisionForTest(t, h)
	serveForTest(t, h, metricsCookie, "anna", "/form", idHeader(regressionID1), nil)
	serveForTest(t, h, metricsCookie, "anna", "/logout", nil, nil)
	serveForTest(t, h, "OTHER-COOKIE", "ben", "/form", idHeader(regressionID2), nil)
	require.Eventually(t, func() bool { return statusOf(t, h.Storage).Delivery.State == deliveryMaintenance },
		5*time.Second, 5*time.Millisecond)

	s := statusOf(t, h.Storage)
	assert.Equal(t, h.Storage, s.Storage)
	assert.Equal(t, srv.URL+"/ibis/rest/webapp/session/instances", s.Endpoint, "no query")
	assert.Equal(t, 1, s.Sessions)
	require.Len(t, s.Pending, 1)
	assert.Equal(t, "anna", s.Pending[0].User)
	assert.Equal(t, 1, s.Pending[0].Pending)
	assert.Equal(t, 1, s.PendingTotal)
	assert.True(t, s.Delivery.PausedUntil.After(time.Now()))
	require.NotNil(t, s.Delivery.LastError)
	assert.Equal(t, "503", s.Delivery.LastError.Outcome)
	assert.Equal(t, "anna", s.Delivery.LastError.User)
	assert.Empty(t, s.Parked)
	assert.Equal(t, uint64(1), s.Counts.Ended["logout"])
	assert.Equal(t, uint64(2), s.Counts.Collected["header"])
	assert.Equal(t, uint64(1), s.Counts.ClearCalls["503"])

	_, body, _ := callAdmin(t, http.MethodGet, "/inubit_sessions/status", "")
	assert.Contains(t, body, h.Storage, "without ?storage= every storage is listed")
	for _, secret := range []string{metricsCookie, "OTHER-COOKIE", metricsPassword, "token=abc"} {
		assert.NotContains(t, body, secret)
	}
}

// Wrong routes, methods and bodies get 404, 405 and 400 with a message
// that says what is wrong.
func TestAdminRefusesBadRequests(t *testing.T) {
	_, srv := newStubINUBIT(t)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir()}
	provisionForTest(t, h)
	release := "/inubit_sessions/release?storage=" + url.QueryEscape(h.Storage)

	tests := map[string]struct {
		method, target, body string
		status               int
		message              string
	}{
		"unknown route":      {"GET", "/inubit_sessions/nope", "", 404, "there are"},
		"status by POST":     {"POST", "/inubit_sessions/status", "", 405, "takes GET"},
		"retry by GET":       {"GET", "/inubit_sessions/retry", "", 405, "takes POST"},
		"unknown storage":    {"GET", "/inubit_sessions/status?storage=/nowhere", "", 404, "storage"},
		"empty body":         {"POST", release, "", 400, "body"},
		"unknown field":      {"POST", release, `{"entry": "x"}`, 400, "unknown field"},
		"neither id nor all": {"POST", release, `{"user": "anna"}`, 400, `give "id"`},
		"id and all":         {"POST", release, `{"id": "` + regressionID1 + `", "all": true}`, 400, "not both"},
		"not an entry ID":    {"POST", release, `{"id": "../etc/passwd"}`, 400, "not an INUBIT entry ID"},
		"not parked":         {"POST", release, `{"id": "` + regressionID1 + `"}`, 404, "is not parked"},
		"not parked for":     {"POST", release, `{"id": "` + regressionID1 + `", "user": "x"}`, 404, `user "x"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, msg, header := callAdmin(t, tc.method, tc.target, tc.body)
			assert.Equal(t, tc.status, code, msg)
			assert.Contains(t, msg, tc.message)
			if code == http.StatusMethodNotAllowed {
				assert.NotEmpty(t, header.Get("Allow"))
			}
		})
	}
}

// parkDirectly parks id for user in h's store, as the cleaner does after
// INUBIT refused it twice.
func parkDirectly(t *testing.T, h *Handler, user, id string) {
	t.Helper()
	_, err := h.state.store.Commit(store.Batch{Pending: map[string][]string{user: {id}}})
	require.NoError(t, err)
	require.NoError(t, h.state.store.Park(user, id, "400 Bad Request"))
}

// A parked entry is released by ID; an ID parked for two users needs the
// user; all releases the rest. Released entries are sent again.
func TestAdminReleasesParkedEntries(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir()}
	provisionForTest(t, h)
	release := "/inubit_sessions/release?storage=" + url.QueryEscape(h.Storage)
	parkDirectly(t, h, "anna", regressionID1)
	parkDirectly(t, h, "ben", regressionID1)
	parkDirectly(t, h, "ben", regressionID2)
	require.Len(t, statusOf(t, h.Storage).Parked, 3)

	code, msg, _ := callAdmin(t, http.MethodPost, release, `{"id": "`+regressionID1+`"}`)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, msg, `user "anna"`)
	assert.Contains(t, msg, `user "ben"`)

	code, body, _ := callAdmin(t, http.MethodPost, release, `{"id": "`+regressionID1+`", "user": "anna"}`)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"released": [{"storage": "`+h.Storage+`", "user": "anna", "id": "`+regressionID1+`"}]}`, body)
	calls := waitCalls(stub, 1, 5*time.Second)
	require.Len(t, calls, 1)
	assert.Equal(t, stubCall{user: "anna", body: regressionID1}, calls[0])

	code, body, _ = callAdmin(t, http.MethodPost, release, `{"all": true}`)
	require.Equal(t, http.StatusOK, code, body)
	var out struct {
		Released []releasedEntry `json:"released"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &out))
	assert.Len(t, out.Released, 2)
	require.Eventually(t, func() bool { return statusOf(t, h.Storage).PendingTotal == 0 },
		5*time.Second, 5*time.Millisecond)
	var bens []string
	for _, c := range stub.snapshot()[1:] {
		assert.Equal(t, "ben", c.user)
		bens = append(bens, strings.Split(c.body, "\n")...)
	}
	assert.ElementsMatch(t, []string{regressionID1, regressionID2}, bens)
	assert.Empty(t, statusOf(t, h.Storage).Parked)
}

// Retry lifts a maintenance pause at once: the queued clear goes out
// without waiting for the next health check.
func TestAdminRetryLiftsMaintenance(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	stub.setStatus(http.StatusServiceUnavailable)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir(), Logout: []string{"/logout"},
		MaintenanceProbe: caddy.Duration(time.Hour)}
	provisionForTest(t, h)
	serveForTest(t, h, "S1", "anna", "/form", idHeader(regressionID1), nil)
	serveForTest(t, h, "S1", "anna", "/logout", nil, nil)
	require.Eventually(t, func() bool { return statusOf(t, h.Storage).Delivery.State == deliveryMaintenance },
		5*time.Second, 5*time.Millisecond)
	before := len(stub.snapshot())

	stub.setStatus(http.StatusOK)
	code, body, _ := callAdmin(t, http.MethodPost, "/inubit_sessions/retry?storage="+url.QueryEscape(h.Storage), "")
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"retried": [{"storage": "`+h.Storage+`", "pause_lifted": "maintenance"}]}`, body)
	calls := waitCalls(stub, before+1, 5*time.Second)
	require.Len(t, calls, before+1)
	require.Eventually(t, func() bool { return statusOf(t, h.Storage).PendingTotal == 0 },
		5*time.Second, 5*time.Millisecond)
	assert.Equal(t, deliveryRunning, statusOf(t, h.Storage).Delivery.State)
}
