package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

const (
	testID1 = "webform@@@OrderWAC/form_orderentry(2)_orderapp@@@10020.xml"
	testID2 = "webform@@@OrderWAC/form_orderentry(3)_orderapp@@@10021.xml"
)

// startEmulator serves the command's handler on loopback. Its log may be
// read once the server is closed (Close waits for every call).
func startEmulator(t *testing.T) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	logs := new(bytes.Buffer)
	fake := newFake(fakeinubit.Profile9XML, "svc", "pw", log.New(logs, "", 0))
	srv := httptest.NewServer(newHandler(fake))
	t.Cleanup(srv.Close)
	return srv, logs
}

// clearCall posts ids as the handler does and returns INUBIT's status.
func clearCall(t *testing.T, base, user, password string, ids ...string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+fakeinubit.ClearPath+"?user="+user,
		strings.NewReader(strings.Join(ids, "\n")))
	require.NoError(t, err)
	req.SetBasicAuth("svc", password)
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Accept", "application/xml")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// control sends a control request and decodes its JSON answer.
func control(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var answer map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &answer)
	return resp.StatusCode, answer
}

func TestClearCallsAreAnsweredAndLogged(t *testing.T) {
	srv, logs := startEmulator(t)
	base := srv.URL
	assert.Equal(t, http.StatusOK, clearCall(t, base, "anna", "pw", testID1, testID2))
	assert.Equal(t, http.StatusUnauthorized, clearCall(t, base, "anna", "wrong", testID1))

	resp, err := http.Get(base + "/fake/cleared")
	require.NoError(t, err)
	defer resp.Body.Close()
	var cleared map[string][]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&cleared))
	assert.Equal(t, map[string][]string{"anna": {testID1, testID2}}, cleared)

	resp, err = http.Get(base + "/fake/calls")
	require.NoError(t, err)
	defer resp.Body.Close()
	calls, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(calls), "REDACTED")
	assert.NotContains(t, string(calls), "c3ZjOnB3", "the Basic credential (svc:pw) is not shown")

	srv.Close()
	assert.Contains(t, logs.String(), `clear call: user "anna", IDs 2, answered 200`)
	assert.Contains(t, logs.String(), `clear call: user "anna", IDs 1, answered 401`)
}

func TestMaintenanceRefusalAndAccountControls(t *testing.T) {
	srv, _ := startEmulator(t)
	base := srv.URL

	status, answer := control(t, http.MethodPost, base+"/fake/maintenance?on=1", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, true, answer["maintenance"])
	assert.Equal(t, http.StatusServiceUnavailable, clearCall(t, base, "anna", "pw", testID1))
	resp, err := http.Get(base + fakeinubit.HealthcheckPath)
	require.NoError(t, err)
	health, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Contains(t, string(health), `"maintenancemode":"1"`)
	control(t, http.MethodPost, base+"/fake/maintenance?on=0", "")
	assert.Equal(t, http.StatusOK, clearCall(t, base, "anna", "pw", testID1))

	status, _ = control(t, http.MethodPost, base+"/fake/refuse?id="+testID2+"&status=404", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, http.StatusNotFound, clearCall(t, base, "anna", "pw", testID1, testID2))
	assert.Equal(t, http.StatusOK, clearCall(t, base, "anna", "pw", testID1))
	control(t, http.MethodPost, base+"/fake/refuse?id="+testID2+"&status=0", "")
	assert.Equal(t, http.StatusOK, clearCall(t, base, "anna", "pw", testID2))

	status, _ = control(t, http.MethodPost, base+"/fake/fail?status=500&n=2", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, http.StatusInternalServerError, clearCall(t, base, "anna", "pw", testID1))
	assert.Equal(t, http.StatusInternalServerError, clearCall(t, base, "anna", "pw", testID1))
	assert.Equal(t, http.StatusOK, clearCall(t, base, "anna", "pw", testID1))

	status, _ = control(t, http.MethodPost, base+"/fake/account?user=svc", "rotated")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, http.StatusUnauthorized, clearCall(t, base, "anna", "pw", testID1))
	assert.Equal(t, http.StatusOK, clearCall(t, base, "anna", "rotated", testID1))
	status, _ = control(t, http.MethodDelete, base+"/fake/account?user=svc", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, http.StatusUnauthorized, clearCall(t, base, "anna", "rotated", testID1))
}

func TestControlMistakesAreRefusedWithAReason(t *testing.T) {
	srv, _ := startEmulator(t)
	base := srv.URL
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodPost, "/fake/maintenance?on=maybe", ""},
		{http.MethodPost, "/fake/refuse?id=" + testID1, ""},
		{http.MethodPost, "/fake/refuse?id=" + testID1 + "&status=200", ""},
		{http.MethodPost, "/fake/fail?status=500", ""},
		{http.MethodPost, "/fake/account?user=svc", ""},
		{http.MethodPost, "/fake/account?user=svc", strings.Repeat("p", 4<<10+1)},
		{http.MethodPost, "/fake/account", "pw"},
	} {
		status, answer := control(t, tc.method, base+tc.path, tc.body)
		assert.Equal(t, http.StatusBadRequest, status, "%s %s", tc.method, tc.path)
		assert.NotEmpty(t, answer["error"], "%s %s", tc.method, tc.path)
	}
	status, _ := control(t, http.MethodGet, base+"/fake/account?user=svc", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
}

func TestRunRefusesAnOtherThanLoopbackAddressAndAMissingPassword(t *testing.T) {
	t.Setenv("INUBIT_PASSWORD", "")
	err := run("127.0.0.1:0", "svc", "9xml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "INUBIT_PASSWORD")

	t.Setenv("INUBIT_PASSWORD", "pw")
	err = run("0.0.0.0:0", "svc", "9xml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "loopback")
	err = run("127.0.0.1:0", "svc", "10")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-profile")
}
