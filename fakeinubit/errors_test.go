package fakeinubit

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorBodies(t *testing.T) {
	tests := []struct {
		name     string
		profile  Profile
		wantType string
		check    func(t *testing.T, body string)
	}{
		{
			name:     "INUBIT 8 HTML page",
			profile:  Profile8,
			wantType: "text/html;charset=utf-8",
			check: func(t *testing.T, body string) {
				assert.True(t, strings.HasPrefix(body, "<!doctype html>"))
				assert.Contains(t, body, "<title>HTTP Status 401 – Unauthorized</title>")
				assert.Contains(t, body, "authentication failed")
			},
		},
		{
			name:     "INUBIT 9 XML ApiError",
			profile:  Profile9XML,
			wantType: "application/xml",
			check: func(t *testing.T, body string) {
				assert.True(t, strings.HasPrefix(body, "<?xml"))
				var doc APIError
				require.NoError(t, xml.Unmarshal([]byte(body), &doc))
				assertAPIError(t, doc)
			},
		},
		{
			name:     "INUBIT 9 JSON ApiError",
			profile:  Profile9JSON,
			wantType: "application/json",
			check: func(t *testing.T, body string) {
				var doc APIError
				require.NoError(t, json.Unmarshal([]byte(body), &doc))
				assertAPIError(t, doc)
				assert.Contains(t, body, `"statusCode":401`)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := startFake(t, tc.profile)
			resp, body := doClear(t, ts, clearReq{noAuth: true})
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Equal(t, tc.wantType, resp.Header.Get("Content-Type"))
			assert.Equal(t, `Basic realm="inubit"`, resp.Header.Get("WWW-Authenticate"))
			tc.check(t, body)
		})
	}
}

func assertAPIError(t *testing.T, doc APIError) {
	t.Helper()
	assert.Equal(t, http.StatusUnauthorized, doc.StatusCode)
	assert.Equal(t, "authentication failed", doc.Message)
	assert.Equal(t, ClearPath, doc.Path)
	assert.Equal(t, "2026-12-04T15:35:53.000Z", doc.Timestamp)
}

func TestErrorStatusPerProfile(t *testing.T) {
	for _, p := range []Profile{Profile8, Profile9XML, Profile9JSON} {
		t.Run(p.String(), func(t *testing.T) {
			s, ts := startFake(t, p)
			s.FailNext(http.StatusInternalServerError, 1)
			resp, body := doClear(t, ts, clearReq{})
			assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
			assert.Contains(t, body, "injected failure")

			s.SetMaintenance(true)
			resp, body = doClear(t, ts, clearReq{})
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.Contains(t, body, "maintenance")
		})
	}
}

func TestUnknownPath(t *testing.T) {
	_, ts := startFake(t, Profile9JSON)
	resp, body := get(t, ts, "/ibis/rest/nothing")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, body, `"statusCode":404`)
}

func TestProfileString(t *testing.T) {
	assert.Equal(t, "inubit8", Profile8.String())
	assert.Equal(t, "inubit9-xml", Profile9XML.String())
	assert.Equal(t, "inubit9-json", Profile9JSON.String())
	assert.Equal(t, "unknown", Profile(42).String())
	assert.Equal(t, Profile9JSON, New(Profile9JSON, nil).Profile())
}
