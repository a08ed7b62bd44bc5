package fakeinubit

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClearStatus(t *testing.T) {
	tests := []struct {
		name string
		req  clearReq
		want int
	}{
		{"accepted", clearReq{body: "a.xml"}, http.StatusOK},
		{"no credentials", clearReq{noAuth: true}, http.StatusUnauthorized},
		{"wrong password", clearReq{user: testUser, pass: "nope"}, http.StatusUnauthorized},
		{"unknown account", clearReq{user: "mallory", pass: testPass}, http.StatusUnauthorized},
		{"user missing", clearReq{query: "userType=processEngineUser"}, http.StatusBadRequest},
		{"user empty", clearReq{query: "user="}, http.StatusBadRequest},
		{"user twice", clearReq{query: "user=alice&user=bob"}, http.StatusBadRequest},
		{"extra parameter", clearReq{query: "user=alice&userType=processUser"}, http.StatusOK},
		{"GET", clearReq{method: http.MethodGet}, http.StatusMethodNotAllowed},
		{"DELETE", clearReq{method: http.MethodDelete}, http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ts := startFake(t, Profile9XML)
			resp, body := doClear(t, ts, tc.req)
			assert.Equal(t, tc.want, resp.StatusCode)

			calls := s.Calls()
			require.Len(t, calls, 1, "every call is recorded")
			assert.Equal(t, tc.want, calls[0].Status)
			if tc.want == http.StatusOK {
				assert.Empty(t, body)
				assert.Equal(t, "application/xml", resp.Header.Get("Content-Type"))
			} else {
				assert.Contains(t, body, "<ApiError>")
				assert.Empty(t, s.Cleared())
			}
		})
	}
}

func TestClearRecordsCall(t *testing.T) {
	s, ts := startFake(t, Profile9JSON)
	doClear(t, ts, clearReq{query: "user=al%20ice&userType=processEngineUser", body: "a.xml\nb.xml"})
	doClear(t, ts, clearReq{user: testUser, pass: "wrong"})

	calls := s.Calls()
	require.Len(t, calls, 2)
	c := calls[0]
	assert.Equal(t, fixedNow, c.Time)
	assert.Equal(t, http.MethodPost, c.Method)
	assert.Equal(t, "user=al%20ice&userType=processEngineUser", c.RawQuery)
	assert.Equal(t, []string{"al ice"}, c.Users)
	assert.True(t, c.AuthPresented)
	assert.Equal(t, testUser, c.AuthUser)
	assert.True(t, c.AuthOK)
	assert.Equal(t, "text/plain; charset=utf-8", c.ContentType)
	assert.Equal(t, "application/xml", c.Accept)
	assert.Equal(t, "a.xml\nb.xml", c.Body)
	assert.Equal(t, "\n", c.Separator)
	assert.Equal(t, []string{"a.xml", "b.xml"}, c.IDs)
	assert.Equal(t, []string{redacted}, c.Header.Values("Authorization"))

	assert.False(t, calls[1].AuthOK)
	assert.Equal(t, http.StatusUnauthorized, calls[1].Status)
	assert.Equal(t, 2, s.ClearCallCount())

	calls[0].IDs[0] = "changed"
	assert.Equal(t, "a.xml", s.Calls()[0].IDs[0], "Calls returns copies")
}

func TestClearCallObserverSeesEachCallAsRecorded(t *testing.T) {
	observed := make(chan ClearCall, 2)
	s, ts := startFake(t, Profile8, WithClearCallObserver(func(c ClearCall) { observed <- c }))
	doClear(t, ts, clearReq{query: "user=anna", body: "a.xml\nb.xml"})
	doClear(t, ts, clearReq{user: testUser, pass: "wrong"})
	first, second := <-observed, <-observed
	assert.Equal(t, []string{"anna"}, first.Users)
	assert.Equal(t, []string{"a.xml", "b.xml"}, first.IDs)
	assert.Equal(t, http.StatusOK, first.Status)
	assert.Equal(t, []string{redacted}, first.Header.Values("Authorization"))
	assert.Equal(t, http.StatusUnauthorized, second.Status)
	assert.Equal(t, s.Calls(), []ClearCall{first, second})
}

func TestParseIDs(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantIDs []string
		wantSep string
	}{
		{"one per line", "a.xml\nb.xml", []string{"a.xml", "b.xml"}, "\n"},
		{"CRLF lines", "a.xml\r\nb.xml\r\n", []string{"a.xml", "b.xml"}, "\n"},
		{"trailing blank line", "a.xml\n\n", []string{"a.xml"}, "\n"},
		{"comma", "a.xml,b.xml", []string{"a.xml", "b.xml"}, ","},
		{"comma and blanks", " a.xml , b.xml ,", []string{"a.xml", "b.xml"}, ","},
		{"newline wins over comma", "a.xml,b.xml\nc.xml", []string{"a.xml,b.xml", "c.xml"}, "\n"},
		{"single", "a.xml", []string{"a.xml"}, ","},
		{"empty", "", []string{}, ","},
		{"real shape", "webform@@@W/f(2)_app@@@10020.xml", []string{"webform@@@W/f(2)_app@@@10020.xml"}, ","},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids, sep := ParseIDs(tc.body)
			assert.Equal(t, tc.wantIDs, ids)
			assert.Equal(t, tc.wantSep, sep)
		})
	}
}

func TestClearedKeepsDuplicatesAndClosesEntries(t *testing.T) {
	s, ts := startFake(t, Profile8)
	first := openForm(t, s, ts)
	second := openForm(t, s, ts)

	doClear(t, ts, clearReq{body: first})
	doClear(t, ts, clearReq{body: first + "," + "unknown.xml"})
	doClear(t, ts, clearReq{query: "user=bob", body: second, pass: "bad"})

	assert.Equal(t, map[string][]string{"alice": {first, first, "unknown.xml"}}, s.Cleared())
	assert.Equal(t, []string{second}, s.Open(), "a refused call clears nothing")
	assert.Equal(t, []string{first, second}, s.Minted())
}

func TestMaintenanceRefusesClear(t *testing.T) {
	s, ts := startFake(t, Profile9JSON)
	s.SetMaintenance(true)
	assert.True(t, s.Maintenance())
	resp, _ := doClear(t, ts, clearReq{body: "a.xml"})
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	s.SetMaintenance(false)
	resp, _ = doClear(t, ts, clearReq{body: "a.xml"})
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"a.xml"}, s.Cleared()["alice"])
}

func TestFailNext(t *testing.T) {
	s, ts := startFake(t, Profile9XML)
	s.FailNext(http.StatusInternalServerError, 2)

	var got []int
	for range 3 {
		resp, _ := doClear(t, ts, clearReq{body: "a.xml"})
		got = append(got, resp.StatusCode)
	}
	assert.Equal(t, []int{500, 500, 200}, got)
	assert.Equal(t, []string{"a.xml"}, s.Cleared()["alice"])

	s.FailNext(http.StatusNotFound, 5)
	s.FailNext(0, 0)
	resp, _ := doClear(t, ts, clearReq{body: "a.xml"})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "FailNext with n=0 cancels")
}

func TestAccountChanges(t *testing.T) {
	s, ts := startFake(t, Profile8)
	s.SetAccount("other", "pw")
	resp, _ := doClear(t, ts, clearReq{user: "other", pass: "pw"})
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	s.SetAccount(testUser, "rotated")
	resp, _ = doClear(t, ts, clearReq{})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	s.RemoveAccount("other")
	resp, _ = doClear(t, ts, clearReq{user: "other", pass: "pw"})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestClearBodyLimit(t *testing.T) {
	s, ts := startFake(t, Profile9XML, WithMaxClearBody(8))
	resp, _ := doClear(t, ts, clearReq{body: "12345678"})
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = doClear(t, ts, clearReq{body: "123456789"})
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Equal(t, 2, s.ClearCallCount())
}

func TestReset(t *testing.T) {
	s, ts := startFake(t, Profile9XML)
	openForm(t, s, ts)
	doClear(t, ts, clearReq{body: "a.xml"})
	s.SetMaintenance(true)
	s.FailNext(500, 3)

	s.Reset()
	assert.Empty(t, s.Calls())
	assert.Empty(t, s.Minted())
	assert.Empty(t, s.Cleared())
	assert.False(t, s.Maintenance())
	resp, _ := doClear(t, ts, clearReq{})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "accounts survive, failures do not")
}
