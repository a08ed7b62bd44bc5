package browsertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
	"github.com/inubit-caddy/caddy-inubit-sessions/internal/demoapp"
)

// The tests run one after the other: each starts Caddy in this process.

// TestLogoutClearsFormsOpenedInTheBrowser: a user logs in, opens three
// forms, submits one, validates another and clicks "Log out"; INUBIT
// gets one clear call for her with exactly the three entries.
func TestLogoutClearsFormsOpenedInTheBrowser(t *testing.T) {
	requireChromium(t)
	s := startStack(t)
	b := startChromium(t)
	p := b.portal(t, s.baseURL)
	forms := demoapp.Forms[:3]

	// anonymous visit, then login with session ID rotation
	p.visit()
	anonymous, ok := p.sessionCookie()
	require.True(t, ok, "the app gave the anonymous visitor a session cookie")
	p.login("alice")
	loggedIn, ok := p.sessionCookie()
	require.True(t, ok)
	assert.NotEqual(t, anonymous, loggedIn, "login rotates the session ID")

	// three forms: submit one, validate one, leave one
	var opened []string
	for _, f := range forms {
		opened = append(opened, p.open(f))
	}
	p.submit(forms[0])
	p.validate(forms[1])
	assert.Empty(t, s.inubit.Calls(), "nothing is cleared while the session lives")

	// logout ends the session
	p.follow("logout", "login-form")
	calls := s.awaitClear(t, "alice", opened)
	requireOneClear(t, calls, "alice", opened)
	assert.Equal(t, opened[:1], s.inubit.Submitted())
	assert.Equal(t, opened[1:2], s.inubit.Validated())
	assert.ElementsMatch(t, opened, s.inubit.Minted(), "the browser opened exactly these entries")
	assert.Empty(t, s.inubit.Open())
	b.trap.checkConfined(t)
}

// TestAppDeletedCookieClearsForms: the app deletes the session cookie on
// a path that is no logout route (/session/reset); the browser drops the
// cookie and INUBIT gets the session's entries.
func TestAppDeletedCookieClearsForms(t *testing.T) {
	requireChromium(t)
	s := startStack(t)
	b := startChromium(t)
	p := b.portal(t, s.baseURL)
	forms := demoapp.Forms[1:3]

	p.visit()
	p.login("bob")
	var opened []string
	for _, f := range forms {
		opened = append(opened, p.open(f))
	}
	p.submit(forms[0])

	p.follow("reset", "reset-done")
	_, ok := p.sessionCookie()
	assert.False(t, ok, "the browser dropped the cookie the app deleted")
	calls := s.awaitClear(t, "bob", opened)
	requireOneClear(t, calls, "bob", opened)
	assert.Empty(t, s.inubit.Open())

	// the browser starts over with a new anonymous session
	p.follow("home", "login-form")
	_, ok = p.sessionCookie()
	assert.True(t, ok, "a new anonymous session after the reset")
	assert.Len(t, s.inubit.Calls(), 1, "starting over clears nothing more")
	b.trap.checkConfined(t)
}

// TestChromiumStaysOnLoopback checks the confinement itself: a page on
// 127.0.0.1 is reached directly, while a request for any other host, by
// http or https, ends at the trap proxy on loopback. The names used end
// in .invalid, which never resolve (RFC 6761).
func TestChromiumStaysOnLoopback(t *testing.T) {
	requireChromium(t)
	var direct atomic.Int32
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		direct.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>loopback</title><p id="here">here</p>`))
	}))
	t.Cleanup(page.Close)
	b := startChromium(t)

	ctx, cancel := context.WithTimeout(b.tab, stepWait)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("here"))))
	assert.Positive(t, direct.Load(), "the loopback page was reached directly")

	// The trap refuses, so these navigations show an error page or fail;
	// only where the requests went matters.
	before := len(b.trap.requests())
	_ = chromedp.Do(ctx, chromedp.Navigate("http://outside.invalid/probe"))
	_ = chromedp.Do(ctx, chromedp.Navigate("https://outside.invalid/probe"))
	var probes []string
	for _, r := range b.trap.requests()[before:] {
		if strings.HasPrefix(r.host, "outside.invalid") {
			probes = append(probes, r.String())
		}
	}
	assert.Contains(t, probes, "GET http://outside.invalid/probe")
	assert.Contains(t, probes, "CONNECT outside.invalid:443")
	b.trap.checkConfined(t)
}

// requireOneClear checks the clear calls of a session that ended: one
// accepted call for user, from the service account, naming each opened
// entry once.
func requireOneClear(t *testing.T, calls []fakeinubit.ClearCall, user string, opened []string) {
	t.Helper()
	require.Len(t, calls, 1, "one clear call for one ended session")
	call := calls[0]
	assert.Equal(t, http.MethodPost, call.Method)
	assert.Equal(t, []string{user}, call.Users)
	assert.Equal(t, http.StatusOK, call.Status)
	assert.True(t, call.AuthOK)
	assert.Equal(t, serviceUser, call.AuthUser)
	assert.ElementsMatch(t, opened, call.IDs)
	assert.Len(t, call.IDs, len(opened), "no entry named twice")
}
