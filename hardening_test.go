package inubitsessions

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Regression (forms cleared while open): a request to a logout path that
// the app refused (405 for the wrong method, 403 for a missing CSRF
// token, 401) ended the session, so a cross-site link could clear a
// user's open forms.
func TestRefusedLogoutDoesNotEndTheSession(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir(), Logout: []string{"/logout", "/portal/logout*"}}
	provisionForTest(t, h)
	serveForTest(t, h, "S1", "anna", "/form", idHeader(regressionID1), nil)
	for _, refusal := range []int{http.StatusMethodNotAllowed, http.StatusForbidden, http.StatusUnauthorized} {
		for _, path := range []string{"/logout", "/portal/logout-and-more"} {
			serveForTest(t, h, "S1", "", path, nil, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(refusal)
			})
		}
	}
	assert.True(t, h.state.tracker.Len() == 1, "the session is still live")
	serveForTest(t, h, "S1", "", "/logout", nil, nil)
	calls := waitCalls(stub, 1, 5*time.Second)
	require.Len(t, calls, 1)
	assert.Equal(t, stubCall{user: "anna", body: regressionID1}, calls[0])
}

// Regression (IDs slipped into a session): any query value of a URL
// ending in /rest/task/help was searched for IDs, so one cross-site link
// could put hundreds of IDs into the victim's session.
func TestHelpCallCarriesAtMostItsOwnID(t *testing.T) {
	h := cookieHandler()
	const a = "webform@@@OrderWAC/form_a(1)_app@@@1.xml"
	const b = "webform@@@OrderWAC/form_b(1)_app@@@2.xml"
	get := func(target string) []string {
		return h.requestIDs(httptest.NewRequest(http.MethodGet, target, nil), nil)
	}
	assert.Equal(t, []string{a}, get("/ibis/rest/task/help?params="+a+"@@@validation@@@x"))
	assert.Equal(t, []string{a}, get("/ibis/rest/task/help?%C2%B6ms="+a+"@@@validation"), "the ¶ms= slip as a key")
	assert.Equal(t, []string{a}, get("/ibis/rest/task/help?workflowName=@@@ISAjaxCall@@@%C2%B6ms="+a+"@@@validation"),
		"the ¶ms= slip inside the previous value")
	assert.Empty(t, get("/x/rest/task/help?q="+a+"&r="+b), "IDs in other parameters are not the call's")
	assert.Equal(t, []string{a}, get("/ibis/rest/task/help?params="+a+"@@@v&params="+b+"@@@v"), "one ID per call")
}

func TestUserValuesAreRefusedNotRepaired(t *testing.T) {
	h := cookieHandler()
	h.User = []string{"{http.request.header.user}", "{http.request.uri.query.user}"}
	h.userSources = userSources(h.User)
	user := func(header, query string) string {
		r := httptest.NewRequest(http.MethodGet, "/?user="+query, nil)
		if header != "" {
			r.Header.Set("User", header)
		}
		caddyhttp.NewTestReplacer(r)
		return h.requestUser(r)
	}
	assert.Equal(t, "anna", user("", "anna"))
	assert.Equal(t, "anna müller", user("", "anna%20m%C3%BCller"))
	assert.Equal(t, "", user("", "%0D%0Aevil"), "a line break at the start is refused, not trimmed away")
	assert.Equal(t, "", user("", "%E2%80%AEnna"), "a bidi override is refused")
	assert.Equal(t, "", user("", "anna%E2%80%8B"), "a zero-width space is refused")
	assert.Equal(t, "", user("", "%EF%BB%BFanna"), "a BOM is refused")
	assert.Equal(t, "bob", user("\tx", "bob"), "a refused header value falls through to the next placeholder")
	assert.Equal(t, int64(5), h.state.refused.counts()["user_invalid"])
}

// The header placeholder is read without Caddy's replacer; it must give
// what the replacer gives, whatever the header holds.
func TestHeaderUserReadsLikeCaddysReplacer(t *testing.T) {
	for _, placeholder := range []string{"{http.request.header.user}", "{http.request.header.X-Remote-User}",
		"{http.request.header.x-remote-user}"} {
		src := userSources([]string{placeholder})[0]
		require.NotEmpty(t, src.header, placeholder)
		for _, values := range [][]string{nil, {""}, {"anna"}, {"anna", "bob"}, {" anna ", ""}} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range values {
				r.Header.Add("User", v)
				r.Header.Add("X-Remote-User", v)
			}
			repl := caddyhttp.NewTestReplacer(r)
			assert.Equal(t, expandPlaceholder(repl, placeholder), headerPlaceholder(r.Header, src.header),
				"%s with %q", placeholder, values)
		}
	}
	for _, other := range []string{"{http.request.uri.query.user}", "{http.request.header.user}x",
		"{http.request.header.}", "x{http.request.header.user}", "{http.request.header.{a}}"} {
		assert.Empty(t, userSources([]string{other})[0].header, "%s goes through the replacer", other)
	}
}

func TestIDsThatClimbOutOfTheirFolderAreRefused(t *testing.T) {
	h := cookieHandler()
	kept := h.keepValidIDs([]string{
		"webform@@@A/b(1)_app@@@1.xml",
		"webform@@@A/../../b@@@7.xml",
		"webform@@@/etc/b@@@7.xml",
		"webform@@@A//b@@@7.xml",
		"webform@@@A/b..c@@@7.xml",
		"webform@@@A/./b.v2@@@8.xml",
		"webform@@@A/b/@@@9.xml",
	})
	assert.Equal(t, []string{"webform@@@A/b(1)_app@@@1.xml", "webform@@@A/./b.v2@@@8.xml", "webform@@@A/b/@@@9.xml"}, kept)
	assert.Equal(t, int64(4), h.state.refused.counts()["id_path_invalid"])
}

// A logout path the app does not serve (404) still ends the session: the
// logout routes are the operator's word, as the contract says.
func TestLogoutAnsweredNotFoundStillEndsTheSession(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir(), Logout: []string{"/logout"}}
	provisionForTest(t, h)
	serveForTest(t, h, "S1", "anna", "/form", idHeader(regressionID1), nil)
	serveForTest(t, h, "S1", "", "/logout", nil, func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	})
	calls := waitCalls(stub, 1, 5*time.Second)
	require.Len(t, calls, 1)
	assert.Equal(t, stubCall{user: "anna", body: regressionID1}, calls[0])
}
