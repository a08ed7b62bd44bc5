package fakeinubit

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The account every test server accepts.
const (
	testUser = "cleaner"
	testPass = "s3cret"
)

// testWAC is a WAC UUID used by the web-app tests.
const testWAC = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

// fixedNow is the clock of every test server.
var fixedNow = time.Date(2026, time.December, 4, 15, 35, 53, 0, time.UTC)

// startFake runs a fake with the test account on a loopback listener.
func startFake(t *testing.T, p Profile, opts ...Option) (*Server, *httptest.Server) {
	t.Helper()
	opts = append([]Option{WithClock(func() time.Time { return fixedNow })}, opts...)
	s := New(p, map[string]string{testUser: testPass}, opts...)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// clearReq describes one clear call; zero fields take sensible defaults.
type clearReq struct {
	method string
	query  string
	body   string
	user   string
	pass   string
	noAuth bool
}

// doClear sends a clear call and returns the answer with its body read.
func doClear(t *testing.T, ts *httptest.Server, c clearReq) (*http.Response, string) {
	t.Helper()
	req, err := newClearRequest(ts, c)
	require.NoError(t, err)
	return send(t, req)
}

// clearInBackground sends a clear call from a new goroutine; the test
// ends only after the answer is read.
func clearInBackground(t *testing.T, ts *httptest.Server, c clearReq) {
	t.Helper()
	req, err := newClearRequest(ts, c)
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		resp, err := http.DefaultClient.Do(req)
		if !assert.NoError(t, err) {
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}()
}

// newClearRequest builds a clear call; zero fields of c take defaults:
// POST, user=alice, the test account.
func newClearRequest(ts *httptest.Server, c clearReq) (*http.Request, error) {
	if c.method == "" {
		c.method = http.MethodPost
	}
	if c.query == "" {
		c.query = "user=alice"
	}
	if c.user == "" && c.pass == "" {
		c.user, c.pass = testUser, testPass
	}
	target := ts.URL + ClearPath + "?" + c.query
	req, err := http.NewRequest(c.method, target, strings.NewReader(c.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("Accept", "application/xml")
	if !c.noAuth {
		req.SetBasicAuth(c.user, c.pass)
	}
	return req, nil
}

// send performs req and reads the whole answer.
func send(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// get sends a GET to path on ts.
func get(t *testing.T, ts *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	require.NoError(t, err)
	return send(t, req)
}

// post sends a POST with body and extra headers to path on ts.
func post(t *testing.T, ts *httptest.Server, path, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return send(t, req)
}

// openForm opens a form of testWAC and returns the minted ID.
func openForm(t *testing.T, s *Server, ts *httptest.Server) string {
	t.Helper()
	before := len(s.Minted())
	resp, _ := post(t, ts, ViewPrefix+testWAC, "<webapp/>", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	minted := s.Minted()
	require.Len(t, minted, before+1)
	return minted[before]
}

// testContext returns a context that ends with the test or after a
// generous bound, so a broken wait fails instead of hanging.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
