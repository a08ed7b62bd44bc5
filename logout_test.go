package inubitsessions

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The first test in front of Caddy's path matcher may only skip requests
// the matcher would refuse: for every pattern and path here, the logout
// matcher answers exactly what Caddy's matcher answers.
func TestLogoutMatcherAnswersLikeCaddysPathMatcher(t *testing.T) {
	patterns := [][]string{
		{"/logout"}, {"/logout", "/portal/logout*"}, {"/portal/logout*"}, {"*/logout"}, {"*logout*"},
		{"/LogOut"}, {"/a/*/logout"}, {"/log?ut"}, {"/[l]ogout"}, {"/log%2Fout"}, {"/{http.vars.x}/logout"},
		{"*"}, {"/x", "*"}, {"/ab"}, {"//logout"}, {"/logout/"}, {"/Straße/logout"},
	}
	paths := []string{
		"/", "/logout", "/LOGOUT", "/LogOut/", "/logout/", "/logout2", "/xlogout", "/portal/logout",
		"/portal/logout/now", "/portal/Logout?x", "/portal//logout", "/a/b/logout", "/a/../logout",
		"/./logout", "//logout", "/logout/.", "/log/out", "/lo%67out", "/log%2Fout", "/log/out/../",
		"/ab", "/AB", "/a/b", "/Stra\u00dfe/logout", "/STRASSE/logout", "/\u212aogout", "/logou\u0442",
		"/page", "/ibis/rest/task/help", "/logout;jsessionid=x",
	}
	for _, pats := range patterns {
		caddyMatch := caddyhttp.MatchPath(append([]string(nil), pats...))
		require.NoError(t, caddyMatch.Provision(caddy.Context{}))
		ours := newLogoutMatcher(append(caddyhttp.MatchPath(nil), caddyMatch...))
		for _, p := range paths {
			u, err := url.Parse("http://h" + p)
			require.NoError(t, err)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.URL = u
			r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
			want, _ := caddyMatch.MatchWithError(r)
			assert.Equal(t, want, ours.matches(r), "patterns %q, path %q", pats, p)
		}
	}
}

func TestLogoutMatcherFirstTestNeedsAWordOfEachPattern(t *testing.T) {
	m := newLogoutMatcher(caddyhttp.MatchPath{"/logout", "/portal/signoff*"})
	assert.Equal(t, []string{"logout", "signoff"}, m.needs)
	assert.False(t, m.mayMatch("/page/form"))
	assert.True(t, m.mayMatch("/x/LOGOUT"))
	assert.True(t, m.mayMatch("/\u00e9"), "non-ASCII paths go to the matcher")
	for _, unsure := range []string{"*", "/{http.vars.x}", "/a%40b", "/[ab]c", `/a\*b`, "/*/*"} {
		assert.Nil(t, newLogoutMatcher(caddyhttp.MatchPath{"/logout", unsure}).needs, unsure)
	}
}

func BenchmarkLogoutMatcher(b *testing.B) {
	pats := caddyhttp.MatchPath{"/logout", "/portal/logout*"}
	require.NoError(b, pats.Provision(caddy.Context{}))
	m := newLogoutMatcher(pats)
	r := httptest.NewRequest(http.MethodGet, "/app/orders/form?x=1", nil)
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
	b.Run("caddy", func(b *testing.B) {
		for b.Loop() {
			_, _ = pats.MatchWithError(r)
		}
	})
	b.Run("first_test", func(b *testing.B) {
		for b.Loop() {
			_ = m.matches(r)
		}
	})
}
