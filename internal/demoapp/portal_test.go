package demoapp

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

func TestPortalPage(t *testing.T) {
	forms := []Form{{UUID: "wac-1", Title: "First"}, {UUID: "wac-2", Title: "Second <form>"}}
	a := New(Config{Forms: forms})
	cookie := login(t, a, url.QueryEscape("<eve>"), "")
	page := serve(t, a, http.MethodGet, "/", cookie)
	require.Equal(t, http.StatusOK, page.status)
	assert.Equal(t, "text/html; charset=utf-8", page.header.Get("Content-Type"))
	assert.Equal(t, "no-store", page.header.Get("Cache-Control"))

	assert.Contains(t, page.body, `<b id="user">&lt;eve&gt;</b>`)
	assert.NotContains(t, page.body, cookie, "the cookie value stays out of the page")
	assert.Contains(t, page.body, "Second &lt;form&gt;")
	for _, f := range forms {
		for _, prefix := range []string{"open-", "submit-", "validate-", "status-", "form-", "entry-"} {
			assert.Contains(t, page.body, `id="`+prefix+f.UUID+`"`)
		}
	}
	assert.Contains(t, page.body, portalScript, "the script is inlined unchanged")
	assert.NotContains(t, page.body, "http://", "no external resources")
	assert.NotContains(t, page.body, "https://", "no external resources")
}

func TestDefaultForms(t *testing.T) {
	a := New(Config{})
	page := serve(t, a, http.MethodGet, "/", login(t, a, "alice", ""))
	require.Len(t, Forms, 3)
	for _, f := range Forms {
		assert.Contains(t, page.body, `id="open-`+f.UUID+`"`)
	}
}

// TestScriptMatchesFake checks that the URLs the portal script builds are
// the ones the fake INUBIT serves.
func TestScriptMatchesFake(t *testing.T) {
	for _, want := range []string{
		"'" + fakeinubit.ViewPrefix + "' + uuid",
		"'" + fakeinubit.SubmitPrefix + "' + uuid",
		"'" + fakeinubit.HelpPath + "?ajaxType=validation&ajaxMode=Submission'",
		"'webappIdentifier': entryID(uuid)",
		"input[name=\"webappIdentifier\"]",
		"encodeURIComponent(entryID(uuid) + helpTail)",
	} {
		assert.Contains(t, portalScript, want)
	}
}

var hiddenInput = regexp.MustCompile(`name="webappIdentifier" value="([^"]*)"`)

// TestFlowAgainstFake replays what the portal script does, over HTTP, on
// one origin that routes /ibis/ to the fake INUBIT and the rest here.
func TestFlowAgainstFake(t *testing.T) {
	fake := fakeinubit.New(fakeinubit.Profile9XML, nil)
	mux := http.NewServeMux()
	mux.Handle("/ibis/", fake)
	mux.Handle("/", New(Config{}))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	uuid := Forms[0].UUID
	view := "<webapp><ISSessionId>P1</ISSessionId><ISUserName>alice@@@intern</ISUserName></webapp>"
	resp, body := call(t, ts.URL+fakeinubit.ViewPrefix+uuid, view, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := hiddenInput.FindStringSubmatch(body)
	require.NotNil(t, m)
	id := html.UnescapeString(m[1])
	assert.Equal(t, []string{id}, fake.Minted())
	assert.Equal(t, "alice@@@intern", fake.Entries()[0].UserName)

	resp, _ = call(t, ts.URL+fakeinubit.SubmitPrefix+uuid, "<data/>",
		map[string]string{fakeinubit.SubmitHeader: id})
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{id}, fake.Submitted())

	help := ts.URL + fakeinubit.HelpPath + "?ajaxType=validation&ajaxMode=Submission" +
		"&workflowName=@@@ISAjaxCall@@@&params=" +
		percentEncode(id+"@@@validation@@@ajaxSubmission@@@null@@@en")
	resp, body = call(t, help, "", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "<valid>true</valid>")
	assert.Equal(t, []string{id}, fake.Validated())
}

// percentEncode escapes s for a query value much as JavaScript's
// encodeURIComponent does; it escapes parentheses too, which the fake
// accepts either way.
func percentEncode(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// call POSTs body with headers to target and reads the answer.
func call(t *testing.T, target, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(out)
}
