package inubitsessions

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// cookieHandler is a handler whose state can hash and track sessions.
func cookieHandler() *Handler {
	h := testHandler()
	h.state.hasher = sessiontracker.NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	h.state.tracker = sessiontracker.New(sessiontracker.Config{})
	return h
}

func requestWithCookies(path string, lines ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for _, l := range lines {
		r.Header.Add("Cookie", l)
	}
	return r
}

func TestSessionCookieRules(t *testing.T) {
	h := cookieHandler()
	key := h.state.hasher.Key
	tracked := key("TRACKED1")
	h.state.tracker.Observe(testNow, sessiontracker.Observation{Key: tracked, HasKey: true, User: "alice"})

	tests := []struct {
		name    string
		path    string
		lines   []string
		want    string // cookie value whose key is expected; "" for none
		refused string // refusal kind counted, if any
	}{
		{name: "plain", lines: []string{"JSESSIONID=ABC"}, want: "ABC"},
		{name: "among others with spaces", lines: []string{"a=1;  JSESSIONID=ABC ; b=2"}, want: "ABC"},
		{name: "quoted is the same session", lines: []string{`JSESSIONID="ABC"`}, want: "ABC"},
		{name: "name in other case is another cookie", lines: []string{"jsessionid=ABC; JSessionId=DEF"}},
		{name: "prefix of another name", lines: []string{"JSESSIONID2=ABC"}},
		{name: "first of two wins when none is tracked", lines: []string{"JSESSIONID=ONE; JSESSIONID=TWO"}, want: "ONE"},
		{name: "tracked one wins over an earlier one", lines: []string{"JSESSIONID=STALE; JSESSIONID=TRACKED1"}, want: "TRACKED1"},
		{name: "tracked one wins across header lines (HTTP/2)", lines: []string{"JSESSIONID=STALE", "JSESSIONID=TRACKED1"}, want: "TRACKED1"},
		{name: "empty value is no session", lines: []string{"JSESSIONID="}},
		{name: "too long is refused", lines: []string{"JSESSIONID=" + strings.Repeat("A", 513)}, refused: "cookie_too_long"},
		{name: "too long falls back to a usable one", lines: []string{"JSESSIONID=" + strings.Repeat("A", 513) + "; JSESSIONID=OK"}, want: "OK", refused: "cookie_too_long"},
		{name: "invalid byte is refused", lines: []string{"JSESSIONID=AB\x01C"}, refused: "cookie_invalid"},
		{name: "non-ASCII is refused", lines: []string{"JSESSIONID=AB\xc3\xa9"}, refused: "cookie_invalid"},
		{name: "path parameter without cookie", path: "/app/page;jsessionid=PATH1?x=1", want: "PATH1"},
		{name: "path parameter before another segment", path: "/app;jsessionid=PATH2/page", want: "PATH2"},
		{name: "cookie wins over path parameter", path: "/app;jsessionid=PATH1", lines: []string{"JSESSIONID=ABC"}, want: "ABC"},
		{name: "path parameter in other case is not Tomcat's", path: "/app;JSESSIONID=PATH1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.state.refused.counts()
			path := tc.path
			if path == "" {
				path = "/"
			}
			got, ok := h.sessionKey(requestWithCookies(path, tc.lines...))
			if tc.want == "" {
				assert.False(t, ok, "no session expected")
			} else {
				require.True(t, ok, "a session expected")
				assert.Equal(t, key(tc.want), got)
			}
			after := h.state.refused.counts()
			for kind, n := range after {
				want := before[kind]
				if kind == tc.refused {
					want++
				}
				assert.Equal(t, want, n, "refusals of kind %s", kind)
			}
		})
	}
}

func TestThousandsOfCookiesAreReadWithoutAllocatingPerCookie(t *testing.T) {
	h := cookieHandler()
	var b strings.Builder
	for i := 0; i < 5000; i++ {
		b.WriteString("c")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString("=value; ")
	}
	b.WriteString("JSESSIONID=LAST")
	r := requestWithCookies("/", b.String())
	key, ok := h.sessionKey(r)
	require.True(t, ok)
	assert.Equal(t, h.state.hasher.Key("LAST"), key)
	lines := r.Header["Cookie"]
	allocs := testing.AllocsPerRun(20, func() {
		for range namedCookies(lines, "JSESSIONID") {
		}
	})
	assert.Zero(t, allocs, "reading the cookies must not allocate, however many there are")
}

func TestSessionCookieBoundIsConfigurable(t *testing.T) {
	h := cookieHandler()
	h.MaxCookieLength = 4
	_, ok := h.sessionKey(requestWithCookies("/", "JSESSIONID=ABCDE"))
	assert.False(t, ok)
	_, ok = h.sessionKey(requestWithCookies("/", "JSESSIONID=ABCD"))
	assert.True(t, ok)
}

func TestLogoutMatchesWithTomcatsSessionPathParameter(t *testing.T) {
	h := cookieHandler()
	h.logout = newLogoutMatcher(caddyhttp.MatchPath{"/logout"})
	get := func(target string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
	}
	assert.True(t, h.isLogout(get("/logout;jsessionid=ABC")))
	assert.True(t, h.isLogout(get("/logout")))
	assert.False(t, h.isLogout(get("/logout2;jsessionid=ABC")))
	assert.Equal(t, "/a/b", withoutSessionParam("/a;jsessionid=X/b", "jsessionid"))
	assert.Equal(t, "/a;v=1", withoutSessionParam("/a;jsessionid=X;v=1", "jsessionid"))
}

// mustURLPath builds a URL holding path as it is, as net/http would for
// a request line.
func mustURLPath(path string) *url.URL { return &url.URL{Path: path} }

// Regression (another app's cookie taken for the session's): INUBIT's
// own Tomcat under /ibis may set a JSESSIONID of its own through the same
// site; with session_cookie_path it neither rotates nor ends the portal's
// session.
func TestSessionCookiePathLeavesOtherPathsAlone(t *testing.T) {
	h := cookieHandler()
	h.SessionCookiePath = "/"
	lines := []string{
		"JSESSIONID=IBIS1; Path=/ibis; HttpOnly",
		"OTHER=1; Path=/ibis",
	}
	assert.Equal(t, cookieChange{}, h.responseCookieChange(lines), "a cookie for /ibis is not the session's")
	assert.Equal(t, cookieChange{deleted: true},
		h.responseCookieChange([]string{"JSESSIONID=; Path=/ibis/; Max-Age=0", "JSESSIONID=; Path=/; Max-Age=0"}))
	assert.Equal(t, cookieChange{set: true, value: "APP1"},
		h.responseCookieChange([]string{"JSESSIONID=IBIS2; Path=/ibis", "JSESSIONID=APP1; Path=/"}))
	assert.Equal(t, cookieChange{set: true, value: "NOPATH"}, h.responseCookieChange([]string{"JSESSIONID=NOPATH"}))

	h.SessionCookiePath = ""
	assert.Equal(t, cookieChange{set: true, value: "IBIS1"}, h.responseCookieChange(lines), "without it, any path counts")
	assert.True(t, samePath("/app/", "/app"))
	assert.False(t, samePath("/app", "/"))
}
