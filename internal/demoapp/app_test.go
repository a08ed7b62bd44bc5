package demoapp

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expired is the exact Set-Cookie header that deletes the session cookie.
const expired = "JSESSIONID=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"

var sessionCookie = regexp.MustCompile(`^JSESSIONID=[0-9A-F]{32}; Path=/; HttpOnly$`)

func TestAnonymousSession(t *testing.T) {
	a := New(Config{})
	first := serve(t, a, http.MethodGet, "/", "")
	require.Equal(t, http.StatusOK, first.status)
	require.Len(t, first.setCookies(), 1)
	assert.Regexp(t, sessionCookie, first.setCookies()[0])
	assert.Contains(t, first.body, `id="login-form"`)
	assert.Equal(t, 1, a.SessionCount())

	again := serve(t, a, http.MethodGet, "/", first.sessionValue(t, DefaultCookieName))
	assert.Empty(t, again.setCookies(), "a live session keeps its cookie")
	assert.Equal(t, 1, a.SessionCount())

	stale := serve(t, a, http.MethodGet, "/", "DEADBEEF")
	assert.Len(t, stale.setCookies(), 1, "an unknown value gets a new session")
	assert.Equal(t, 2, a.SessionCount())
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name string
		do   func(a *App) answer
	}{
		{"GET", func(a *App) answer {
			return serve(t, a, http.MethodGet, "/login?user=alice", "")
		}},
		{"POST form", func(a *App) answer {
			return postForm(t, a, "/login", "user=alice", "")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := New(Config{})
			ans := tc.do(a)
			require.Equal(t, http.StatusSeeOther, ans.status)
			assert.Equal(t, "/", ans.header.Get("Location"))
			require.Len(t, ans.setCookies(), 1)
			assert.Regexp(t, sessionCookie, ans.setCookies()[0])

			cookie := ans.sessionValue(t, DefaultCookieName)
			assert.Equal(t, whoami{User: "alice", LoggedIn: true}, askWhoami(t, a, cookie))
			page := serve(t, a, http.MethodGet, "/", cookie)
			assert.Contains(t, page.body, `<b id="user">alice</b>`)
			assert.Empty(t, page.setCookies())
		})
	}
}

func TestLoginRejectsBadName(t *testing.T) {
	tests := []struct {
		name  string
		query string
	}{
		{"missing", "/login"},
		{"blank", "/login?user=%20"},
		{"too long", "/login?user=" + strings.Repeat("a", 65)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := New(Config{})
			ans := serve(t, a, http.MethodGet, tc.query, "")
			assert.Equal(t, http.StatusBadRequest, ans.status)
			assert.Empty(t, ans.setCookies())
			assert.Contains(t, ans.body, `id="login-error"`)
		})
	}
}

func TestLoginRotatesSessionID(t *testing.T) {
	a := New(Config{})
	anon := serve(t, a, http.MethodGet, "/", "").sessionValue(t, DefaultCookieName)
	first := login(t, a, "alice", anon)
	assert.NotEqual(t, anon, first)

	second := login(t, a, "bob", first)
	assert.NotEqual(t, first, second)
	assert.Equal(t, 1, a.SessionCount(), "old sessions are forgotten")
	assert.Equal(t, whoami{}, askWhoami(t, a, first))
	assert.Equal(t, whoami{User: "bob", LoggedIn: true}, askWhoami(t, a, second))
}

func TestSessionEnds(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		wantStatus int
	}{
		{"logout", "/logout", http.StatusSeeOther},
		{"portal logout", "/portal/logout", http.StatusSeeOther},
		{"reset", "/session/reset", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := New(Config{})
			cookie := login(t, a, "alice", "")
			ans := serve(t, a, http.MethodGet, tc.path, cookie)
			assert.Equal(t, tc.wantStatus, ans.status)
			assert.Equal(t, []string{expired}, ans.setCookies())
			assert.Equal(t, 0, a.SessionCount())
			assert.Equal(t, whoami{}, askWhoami(t, a, cookie))
			if tc.wantStatus == http.StatusSeeOther {
				assert.Equal(t, "/", ans.header.Get("Location"))
			}
		})
	}
}

func TestSessionEndWithoutSession(t *testing.T) {
	a := New(Config{})
	ans := serve(t, a, http.MethodGet, "/logout", "")
	assert.Equal(t, []string{expired}, ans.setCookies())
}

func TestCookieConfig(t *testing.T) {
	a := New(Config{CookieName: "SID", SecureCookie: true})
	assert.Equal(t, "SID", a.CookieName())
	ans := serve(t, a, http.MethodGet, "/login?user=alice", "")
	require.Len(t, ans.setCookies(), 1)
	assert.Regexp(t, `^SID=[0-9A-F]{32}; Path=/; HttpOnly; Secure$`, ans.setCookies()[0])

	out := serve(t, a, http.MethodGet, "/logout", "")
	assert.Equal(t, []string{"SID=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure"},
		out.setCookies())
	assert.Equal(t, DefaultCookieName, New(Config{}).CookieName())
}

func TestWhoamiCreatesNoSession(t *testing.T) {
	a := New(Config{})
	ans := serve(t, a, http.MethodGet, "/whoami", "")
	assert.Equal(t, "application/json", ans.header.Get("Content-Type"))
	assert.JSONEq(t, `{"user":"","loggedIn":false}`, ans.body)
	assert.Empty(t, ans.setCookies())
	assert.Equal(t, 0, a.SessionCount())
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{"unknown page", http.MethodGet, "/nothing", http.StatusNotFound},
		{"PUT on login", http.MethodPut, "/login", http.StatusMethodNotAllowed},
		{"POST on logout", http.MethodPost, "/logout", http.StatusMethodNotAllowed},
		{"HEAD on index", http.MethodHead, "/", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, serve(t, New(Config{}), tc.method, tc.path, "").status)
		})
	}
}

// askWhoami returns what /whoami says for cookie value.
func askWhoami(t *testing.T, a *App, cookie string) whoami {
	t.Helper()
	var w whoami
	require.NoError(t, json.Unmarshal([]byte(serve(t, a, http.MethodGet, "/whoami", cookie).body), &w))
	return w
}
