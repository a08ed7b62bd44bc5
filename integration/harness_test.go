// Package integration runs the handler inside a real, in-process Caddy
// (caddytest) in front of the INUBIT emulator and the demo web app, and
// plays browsers through it. caddytest uses a fixed admin port, so every
// such test lives in this one package.
package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2/caddytest"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/inubit-caddy/caddy-inubit-sessions"
	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
	"github.com/inubit-caddy/caddy-inubit-sessions/internal/demoapp"
)

const (
	serviceUser = "svc-cleaner"
	servicePass = "correct horse battery staple"
	passwordEnv = "INUBIT_PASSWORD"
)

// The in-process Caddy's ports, picked free at start so that two test
// runs on one machine do not load configs into each other's Caddy.
var (
	httpPort, httpsPort, adminPort int
	globalConfig                   string
	siteAddress                    string
)

func TestMain(m *testing.M) {
	os.Setenv(passwordEnv, servicePass)
	httpPort, httpsPort, adminPort = freePort(), freePort(), freePort()
	caddytest.Default.AdminPort = adminPort
	globalConfig = globalOptions("")
	siteAddress = fmt.Sprintf("http://:%d", httpPort)
	os.Exit(m.Run())
}

// globalOptions is the global options block every test config starts
// with, plus the lines in extra.
func globalOptions(extra string) string {
	return fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	https_port %d
	grace_period 1ns
	skip_install_trust
	default_bind 127.0.0.1
	persist_config off
	%s
}
`, adminPort, httpPort, httpsPort, extra)
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// stack is one test's INUBIT emulator, web app and Caddy config values.
type stack struct {
	inubit  *fakeinubit.Server
	inubitA string // host:port of the emulator
	webappA string // host:port of the web app
	storage string
}

func newStack(t *testing.T, profile fakeinubit.Profile) *stack {
	t.Helper()
	inubit := fakeinubit.New(profile, map[string]string{serviceUser: servicePass})
	inubitSrv := httptest.NewServer(inubit)
	t.Cleanup(inubitSrv.Close)
	appSrv := httptest.NewServer(demoapp.New(demoapp.Config{}))
	t.Cleanup(appSrv.Close)
	return &stack{
		inubit:  inubit,
		inubitA: inubitSrv.Listener.Addr().String(),
		webappA: appSrv.Listener.Addr().String(),
		storage: t.TempDir(),
	}
}

// siteOptions vary the Caddyfile of the issue.
type siteOptions struct {
	separator   string // default newline
	idleTimeout string // default 30m
	extra       string // more subdirectives
}

// handlerBlock is the inubit_sessions block as the issue shows it.
func (s *stack) handlerBlock(o siteOptions) string {
	if o.separator == "" {
		o.separator = "newline"
	}
	if o.idleTimeout == "" {
		o.idleTimeout = "30m"
	}
	return fmt.Sprintf(`inubit_sessions {
		endpoint http://%s/ibis/rest/webapp/session/instances
		basic_auth svc-cleaner {env.INUBIT_PASSWORD}
		session_cookie JSESSIONID
		user {http.request.header.user} {http.request.uri.query.user}
		logout /logout /portal/logout*
		idle_timeout %s
		max_lifetime 12h
		separator %s
		storage %s
		retry_backoff 50ms 500ms
		%s
	}`, s.inubitA, o.idleTimeout, o.separator, s.storage, o.extra)
}

// issueSite is the site block of the issue, pointed at this stack.
func (s *stack) issueSite(o siteOptions) string {
	return globalConfig + fmt.Sprintf(`%s {
	%s
	reverse_proxy /ibis/* %s
	reverse_proxy %s
}
`, siteAddress, s.handlerBlock(o), s.inubitA, s.webappA)
}

func (s *stack) start(t *testing.T, caddyfile string) {
	t.Helper()
	caddytest.NewTester(t).InitServer(caddyfile, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
}

// waitCleared waits until the emulator accepted clear calls for user
// covering want, and returns the IDs cleared for user.
func (s *stack) waitCleared(t *testing.T, user string, want []string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.inubit.WaitFor(ctx, func() bool {
		got := s.inubit.Cleared()[user]
		for _, id := range want {
			if !slices.Contains(got, id) {
				return false
			}
		}
		return true
	})
	require.NoError(t, err, "INUBIT did not receive the clear call for %s; calls: %+v", user, s.inubit.Calls())
	return s.inubit.Cleared()[user]
}

// browser is one browser: a cookie jar and a client that reaches Caddy.
type browser struct {
	t      *testing.T
	client *http.Client
	base   string // scheme, host and port of the site
}

func newBrowser(t *testing.T) *browser {
	return newBrowserAt(t, fmt.Sprintf("http://127.0.0.1:%d", httpPort), nil)
}

// newBrowserAt is a browser for the site at base whose requests go
// through transport (nil: the default one).
func newBrowserAt(t *testing.T, base string, transport http.RoundTripper) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: transport}
	return &browser{t: t, client: client, base: base}
}

func (b *browser) do(method, path string, body io.Reader, header http.Header) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, body)
	require.NoError(b.t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, string(data)
}

func (b *browser) get(path string) string {
	b.t.Helper()
	status, body := b.do(http.MethodGet, path, nil, nil)
	require.Equal(b.t, http.StatusOK, status, "GET %s: %s", path, body)
	return body
}

func (b *browser) login(user string) {
	b.get("/")
	b.get("/login?user=" + url.QueryEscape(user))
}

var rawID = regexp.MustCompile(`webform@@@[A-Za-z0-9_.()/-]+@@@[0-9]+\.xml`)

// openForm loads a web form as the portal's script does and returns the
// entry ID INUBIT minted for it.
func (b *browser) openForm(uuid string) string {
	b.t.Helper()
	status, page := b.do(http.MethodPost, fakeinubit.ViewPrefix+uuid,
		strings.NewReader(`<properties><ISSessionId>portal-1</ISSessionId></properties>`),
		http.Header{"Content-Type": {"application/xml"}})
	require.Equal(b.t, http.StatusOK, status)
	id := rawID.FindString(page)
	require.NotEmpty(b.t, id, "the view page renders the entry ID")
	return id
}

func (b *browser) submit(uuid, id string) {
	b.t.Helper()
	status, body := b.do(http.MethodPost, fakeinubit.SubmitPrefix+uuid, strings.NewReader("<data/>"),
		http.Header{fakeinubit.SubmitHeader: {id}})
	require.Equal(b.t, http.StatusOK, status, body)
}

func (b *browser) validate(id string) {
	b.t.Helper()
	query := "ajaxType=validation&ajaxMode=Submission&workflowName=@@@ISAjaxCall@@@&params=" +
		url.QueryEscape(id+"@@@validation@@@ajaxSubmission@@@null@@@en")
	status, body := b.do(http.MethodPost, fakeinubit.HelpPath+"?"+query, nil, nil)
	require.Equal(b.t, http.StatusOK, status, body)
}

// formUUID returns the UUID of the demo app's i-th form.
func formUUID(i int) string { return demoapp.Forms[i%len(demoapp.Forms)].UUID }
