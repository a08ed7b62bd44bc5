package faulttest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
	"github.com/inubit-caddy/caddy-inubit-sessions/internal/demoapp"
)

// idPattern finds an entry ID in a form page.
var idPattern = regexp.MustCompile(`webform@@@[A-Za-z0-9_.()/-]+@@@[0-9]+\.xml`)

// browser is a user's browser: a cookie jar and a client for Caddy's
// site. It follows no redirect, so each step is one request; the jar
// still takes every Set-Cookie.
type browser struct {
	user   string
	base   string
	client *http.Client
}

func newBrowser(t *testing.T, port int, user string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	transport := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2}
	t.Cleanup(transport.CloseIdleConnections)
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{
		user: user,
		base: fmt.Sprintf("http://127.0.0.1:%d", port),
		client: &http.Client{
			Jar:           jar,
			Transport:     transport,
			Timeout:       10 * time.Second,
			CheckRedirect: noRedirect,
		},
	}
}

// do sends one request and reads the whole answer.
func (b *browser) do(method, path, body string, want int) (string, error) {
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return string(data), fmt.Errorf("%s %s: status %d, want %d",
			method, path, resp.StatusCode, want)
	}
	return string(data), nil
}

// home opens the portal, which starts an anonymous session.
func (b *browser) home() error {
	_, err := b.do(http.MethodGet, "/", "", http.StatusOK)
	return err
}

// login logs in; the web app rotates the session cookie and redirects.
func (b *browser) login() error {
	_, err := b.do(http.MethodGet, "/login?user="+url.QueryEscape(b.user), "", http.StatusSeeOther)
	return err
}

// openForm opens form i of the portal and returns the entry ID its page
// carries.
func (b *browser) openForm(i int) (string, error) {
	uuid := demoapp.Forms[i%len(demoapp.Forms)].UUID
	page, err := b.do(http.MethodPost, fakeinubit.ViewPrefix+uuid, "<properties/>", http.StatusOK)
	if err != nil {
		return "", err
	}
	id := idPattern.FindString(page)
	if id == "" {
		return "", fmt.Errorf("form page of %s carries no entry ID", uuid)
	}
	return id, nil
}

// logout ends the session; the web app deletes the cookie and redirects.
func (b *browser) logout() error {
	_, err := b.do(http.MethodGet, "/logout", "", http.StatusSeeOther)
	return err
}

// mustLogin opens the portal and logs in.
func (b *browser) mustLogin(t *testing.T) {
	t.Helper()
	require.NoError(t, b.home())
	require.NoError(t, b.login())
}

// mustOpen opens n forms and returns their entry IDs.
func (b *browser) mustOpen(t *testing.T, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := range n {
		id, err := b.openForm(i)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

func (b *browser) mustLogout(t *testing.T) {
	t.Helper()
	require.NoError(t, b.logout())
}

// mustPlaySession logs in, opens n forms, logs out, and returns the
// forms' entry IDs.
func (b *browser) mustPlaySession(t *testing.T, n int) []string {
	t.Helper()
	b.mustLogin(t)
	ids := b.mustOpen(t, n)
	b.mustLogout(t)
	return ids
}

// retry runs step until it succeeds, pausing between attempts, for at
// most attempts tries and until deadline; it returns the number of
// failed tries and the last error if it never succeeded.
func retry(attempts int, pause time.Duration, deadline time.Time, step func() error) (int, error) {
	failed := 0
	for {
		err := step()
		if err == nil {
			return failed, nil
		}
		failed++
		if failed >= attempts || time.Now().Add(pause).After(deadline) {
			return failed, err
		}
		time.Sleep(pause)
	}
}
