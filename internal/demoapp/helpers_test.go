package demoapp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// answer is a served request's status, headers and body.
type answer struct {
	status int
	header http.Header
	body   string
}

// setCookies returns the raw Set-Cookie header values.
func (a answer) setCookies() []string { return a.header.Values("Set-Cookie") }

// sessionValue returns the value the answer gives the cookie name, or ""
// when it sets none.
func (a answer) sessionValue(t *testing.T, name string) string {
	t.Helper()
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// serve runs one request through h with an optional session cookie.
func serve(t *testing.T, h http.Handler, method, target, cookie string) answer {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return answer{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

// postForm runs a form POST through h with an optional session cookie.
func postForm(t *testing.T, h http.Handler, target, form, cookie string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return answer{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

// login logs in as user, optionally from an existing session, and returns
// the new cookie value.
func login(t *testing.T, a *App, user, cookie string) string {
	t.Helper()
	ans := serve(t, a, http.MethodGet, "/login?user="+user, cookie)
	require.Equal(t, http.StatusSeeOther, ans.status)
	v := ans.sessionValue(t, DefaultCookieName)
	require.NotEmpty(t, v)
	return v
}
