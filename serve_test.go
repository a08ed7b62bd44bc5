package inubitsessions

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2"
)

// Regression (wrong behaviour: clears an active form): ServeHTTP reads the clock
// before next, but touches the session only after next returns. While a
// long request is in flight (a slow upload, a long poll, server-sent
// events, a big download) the session's lastSeen stays at the previous
// request, so the sweeper ends it as idle and INUBIT clears the entries of
// a browser that is still working. Expected: a session with a request
// that started less than idle_timeout ago is not idle.
func TestRequestInFlightKeepsSessionActive(t *testing.T) {
	_, srv := newStubINUBIT(t)
	h := &Handler{
		Endpoint: srv.URL, Storage: t.TempDir(),
		IdleTimeout: caddy.Duration(30 * time.Minute), SweepInterval: caddy.Duration(time.Hour),
	}
	provisionForTest(t, h)
	t0 := time.Now()
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	h.now = func() time.Time { return time.Unix(0, clock.Load()) }

	serveForTest(t, h, "S1", "anna", "/form", idHeader(regressionID1), nil)

	// t0+20m: a long request of the same browser starts and stays open
	clock.Store(t0.Add(20 * time.Minute).UnixNano())
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveForTest(t, h, "S1", "anna", "/events", nil, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			close(entered)
			<-release
		})
	}()
	<-entered

	// t0+35m: 15 minutes after the browser's last request began
	ended := h.state.tracker.Sweep(t0.Add(35 * time.Minute))
	close(release)
	<-done
	assert.Empty(t, ended, "a session with a request in flight (started 15m ago) must not end as idle")
}

// Regression (wrong behaviour): the watcher reads Set-Cookie only when someone
// calls WriteHeader, Write, ReadFrom or Flush. A handler that sets headers
// and returns lets net/http send the implicit 200 with those headers, so
// a session-cookie deletion (or rotation) sent that way is never seen.
// Expected: finish inspects the header if nothing was written.
func TestSetCookieWithoutWriteIsSeen(t *testing.T) {
	_, srv := newStubINUBIT(t)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir()}
	provisionForTest(t, h)

	serveForTest(t, h, "S1", "anna", "/form", idHeader(regressionID1), nil)
	require.Equal(t, 1, h.state.tracker.Len())
	w := serveForTest(t, h, "S1", "anna", "/bye", nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "JSESSIONID=; Max-Age=0; Path=/")
		// no WriteHeader/Write: net/http sends 200 with this header
	})
	require.Contains(t, w.Header().Values("Set-Cookie"), "JSESSIONID=; Max-Age=0; Path=/",
		"the client did get the deletion")
	assert.Equal(t, 0, h.state.tracker.Len(), "the session whose cookie was deleted must end")
}

// Regression (minor, wrong behaviour): a session-cookie deletion whose Expires
// uses the RFC 850 / two-digit-year layout (which browsers accept, RFC
// 6265 section 5.1.1) is not parsed by net/http, so the deletion is read
// as a rotation to the value "deleted": the session moves instead of
// ending, and its entries wait for the idle timeout. Worse, every browser
// deleted this way rotates into the same key. Expected: deleted.
func TestCookieDeletionWithLegacyExpires(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for name, line := range map[string]string{
		"RFC 850":        "JSESSIONID=deleted; Expires=Thursday, 01-Jan-70 00:00:01 GMT; Path=/",
		"two-digit year": "JSESSIONID=deleted; Expires=Thu, 01-Jan-70 00:00:01 GMT; Path=/",
		"asctime":        "JSESSIONID=deleted; Expires=Thu Jan  1 00:00:01 1970; Path=/",
	} {
		t.Run(name, func(t *testing.T) {
			got := sessionCookieChange([]string{line}, "JSESSIONID", now)
			assert.True(t, got.deleted, "an Expires in 1970 deletes the cookie")
			assert.False(t, got.set, "a deletion is not a new session value")
		})
	}
}

func TestValidUser(t *testing.T) {
	tests := map[string]struct {
		user string
		want bool
	}{
		"plain":        {"alice", true},
		"with domain":  {"alice@@@intern", true},
		"spaces":       {"Anna Müller", true},
		"NUL":          {"eve\x00x", false},
		"line break":   {"eve\r\nX-Evil: 1", false},
		"tab":          {"eve\tx", false},
		"invalid UTF8": {"eve\xff", false},
		"too long":     {strings.Repeat("a", maxUserLength+1), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, validUser(tc.user))
		})
	}
}

// A request without a session cookie has its text body scanned only when
// the answer starts a session (a login page that renders a form): then
// the page's IDs belong to the new session. Otherwise nothing found in
// the body could be kept, and the scan would be wasted work.
func TestBodyWithoutSessionIsScannedOnlyWhenTheAnswerStartsOne(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir(), Logout: []string{"/logout"}}
	provisionForTest(t, h)
	page := func(setCookie string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			if setCookie != "" {
				w.Header().Add("Set-Cookie", setCookie)
			}
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(`<input type="hidden" value="` + regressionID1 + `">`))
		}
	}

	serveForTest(t, h, "", "anna", "/public", nil, page(""))
	assert.Zero(t, h.state.refused.counts()["id_without_session"], "a sessionless page is not scanned")
	assert.Equal(t, 0, h.state.tracker.Len())

	serveForTest(t, h, "", "anna", "/login", nil, page("JSESSIONID=NEW1; Path=/"))
	require.Equal(t, 1, h.state.tracker.Len(), "the page that started the session brought its ID")
	serveForTest(t, h, "NEW1", "anna", "/logout", nil, nil)
	calls := waitCalls(stub, 1, 5*time.Second)
	require.Len(t, calls, 1)
	assert.Equal(t, stubCall{user: "anna", body: regressionID1}, calls[0])
}
