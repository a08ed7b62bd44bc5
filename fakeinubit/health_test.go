package fakeinubit

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHealthcheck(t *testing.T) {
	tests := []struct {
		name        string
		opts        []Option
		maintenance bool
		wantStatus  int
		wantBody    string
		wantType    string
	}{
		{
			name:       "normal",
			wantStatus: http.StatusOK,
			wantBody:   healthJSON("OK", `"0"`),
			wantType:   "application/json",
		},
		{
			name:        "maintenance reported in body",
			maintenance: true,
			wantStatus:  http.StatusOK,
			wantBody:    healthJSON("OK", `"1"`),
			wantType:    "application/json",
		},
		{
			name:        "maintenance as 503",
			opts:        []Option{WithHealthcheck503()},
			maintenance: true,
			wantStatus:  http.StatusServiceUnavailable,
			wantBody:    healthJSON("ERROR", `"1"`),
			wantType:    "application/json",
		},
		{
			name:       "503 option without maintenance",
			opts:       []Option{WithHealthcheck503()},
			wantStatus: http.StatusOK,
			wantBody:   healthJSON("OK", `"0"`),
			wantType:   "application/json",
		},
		{
			name:        "numeric flag",
			opts:        []Option{WithNumericMaintenanceMode()},
			maintenance: true,
			wantStatus:  http.StatusOK,
			wantBody:    healthJSON("OK", `1`),
			wantType:    "application/json",
		},
		{
			name:       "misspelled header",
			opts:       []Option{WithHealthcheckHeaderTypo()},
			wantStatus: http.StatusOK,
			wantBody:   healthJSON("OK", `"0"`),
			wantType:   "text/plain; charset=utf-8",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ts := startFake(t, Profile9XML, tc.opts...)
			s.SetMaintenance(tc.maintenance)
			resp, body := get(t, ts, HealthcheckPath)
			assert.Equal(t, tc.wantStatus, resp.StatusCode)
			assert.JSONEq(t, tc.wantBody, body)
			assert.Equal(t, tc.wantType, resp.Header.Get("Content-Type"))
			assert.Equal(t, 1, s.HealthcheckCount())
		})
	}
}

// healthJSON is the health document expected at the test clock's time.
func healthJSON(status, mode string) string {
	return `{"status":"` + status + `","maintenancemode":` + mode +
		`,"timestamp":"Fri Dec 04 15:35:53 UTC 2026"}`
}

func TestHealthcheckHeaderTypo(t *testing.T) {
	_, ts := startFake(t, Profile8, WithHealthcheckHeaderTypo())
	resp, _ := get(t, ts, HealthcheckPath)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Tye"))
}

func TestHealthcheckNeedsNoAuthButGET(t *testing.T) {
	s, ts := startFake(t, Profile9JSON)
	resp, body := post(t, ts, HealthcheckPath, "", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Contains(t, body, `"statusCode":405`)
	assert.Equal(t, 0, s.HealthcheckCount())
}

func TestHealthcheckTimestampIsJavaDate(t *testing.T) {
	_, ts := startFake(t, Profile8)
	_, body := get(t, ts, HealthcheckPath)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	_, err := time.Parse("Mon Jan 02 15:04:05 MST 2006", doc["timestamp"].(string))
	assert.NoError(t, err)
}

func TestReady(t *testing.T) {
	tests := []struct {
		name        string
		opts        []Option
		method      string
		maintenance bool
		wantStatus  int
		wantBody    string
	}{
		{"ready", nil, http.MethodGet, false, http.StatusOK, "READY"},
		{"ready by POST", nil, http.MethodPost, false, http.StatusOK, "READY"},
		{"maintenance", nil, http.MethodGet, true, http.StatusServiceUnavailable, "NOT READY"},
		{"maintenance as 500", []Option{WithNotReadyStatus(500)}, http.MethodGet, true,
			http.StatusInternalServerError, "NOT READY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ts := startFake(t, Profile9XML, tc.opts...)
			s.SetMaintenance(tc.maintenance)
			req, err := http.NewRequest(tc.method, ts.URL+ReadyPath, nil)
			require.NoError(t, err)
			resp, body := send(t, req)
			assert.Equal(t, tc.wantStatus, resp.StatusCode)
			assert.Equal(t, tc.wantBody, body)
			assert.Equal(t, 1, s.ReadyCount())
		})
	}
}

func TestReadyRefusesPUT(t *testing.T) {
	_, ts := startFake(t, Profile9XML)
	req, err := http.NewRequest(http.MethodPut, ts.URL+ReadyPath, nil)
	require.NoError(t, err)
	resp, _ := send(t, req)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, "GET, HEAD, POST", resp.Header.Get("Allow"))
}
