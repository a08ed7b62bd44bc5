package inubitsessions

// Proofs against a real in-process Caddy (caddy.Load, admin off, a free
// port on 127.0.0.1). These two tests must not run in parallel: caddy.Load
// replaces the process-wide config.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func freeTestPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// loadTestCaddyfile adapts and loads a Caddyfile; it returns the JSON.
func loadTestCaddyfile(t *testing.T, caddyfile string) []byte {
	t.Helper()
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	require.NoError(t, err, "warnings: %v", warnings)
	require.NoError(t, caddy.Load(cfg, true))
	t.Cleanup(func() { _ = caddy.Stop() })
	return cfg
}

func getForTest(t *testing.T, port int, path, cookie string, hdr http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("X-User", "anna")
	req.AddCookie(&http.Cookie{Name: "JSESSIONID", Value: cookie})
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func testSite(port int, endpoint, storage, body string) string {
	return fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
}
http://127.0.0.1:%d {
	inubit_sessions {
		endpoint %s
		basic_auth svc pw
		user {http.request.header.X-User}
		logout /portal/logout
		storage %s
		retry_backoff 10ms 50ms
	}
	%s
}
`, port, endpoint, storage, body)
}

// Regression (wrong behaviour, lost clears): the logout match runs on the request
// after next.ServeHTTP returned. handle_path (and uri strip_prefix inside a
// handle) rewrite r.URL in place, so "logout /portal/logout" never matches
// a site that proxies /portal/* through handle_path: no session ever ends
// by logout. Expected: the logout request ends the session and its entry
// is cleared. Fix: match the logout paths before calling next.
func TestLogoutMatchesBeforeHandlePathRewrites(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	port := freeTestPort(t)
	loadTestCaddyfile(t, testSite(port, srv.URL, t.TempDir(),
		`handle_path /portal/* {
		respond "ok"
	}`))

	getForTest(t, port, "/portal/form", "S1", idHeader(regressionID1))
	getForTest(t, port, "/portal/logout", "S1", nil)

	calls := waitCalls(stub, 1, 2*time.Second)
	assert.Len(t, calls, 1, "logout through handle_path must clear the session's entry")
}

// Regression (lifecycle, real Caddy): a reload whose config fails to provision
// still reconfigures the running config's shared state. Config 2 points
// the same storage at endpoint B and then fails (here: a second handler
// with a bad separator); caddy.Load returns the error and config 1 keeps
// serving, yet its clears now go to B. Expected: clears go to A.
func TestRejectedReloadKeepsRunningEndpoint(t *testing.T) {
	stubA, srvA := newStubINUBIT(t)
	stubB, srvB := newStubINUBIT(t)
	port := freeTestPort(t)
	storage := t.TempDir()
	cfg1 := loadTestCaddyfile(t, testSite(port, srvA.URL, storage, `respond "ok"`))

	// config 2: same storage, endpoint B, and a handler that fails Provision
	var doc map[string]any
	require.NoError(t, json.Unmarshal(cfg1, &doc))
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	bad := []byte(replaceOnce(string(raw), srvA.URL, srvB.URL))
	bad = []byte(replaceOnce(string(bad), `"handler":"static_response"`,
		`"handler":"inubit_sessions","endpoint":"http://127.0.0.1:1/x",`+
			`"basic_auth":{"username":"u"},"separator":"bogus","storage":"`+t.TempDir()+`"},{"handler":"static_response"`))
	require.Error(t, caddy.Load(bad, true), "config 2 must be rejected")

	getForTest(t, port, "/form", "S1", idHeader(regressionID1))
	getForTest(t, port, "/portal/logout", "S1", nil)

	calls := waitCalls(stubA, 1, 2*time.Second)
	assert.Len(t, calls, 1, "the config still running must clear on its own INUBIT")
	assert.Empty(t, stubB.snapshot(), "the rejected config's INUBIT must not be called")
}

func replaceOnce(s, old, repl string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + repl + s[i+len(old):]
		}
	}
	panic("replaceOnce: " + old + " not found")
}
