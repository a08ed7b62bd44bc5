package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
	"github.com/inubit-caddy/caddy-inubit-sessions/internal/demoapp"
)

// Only one Caddy runs per process: the tests that start a stack run one
// after the other, never in parallel, each on a free port.

// testOptions are the demo's defaults with a free port for Caddy.
func testOptions(separator string) options {
	return options{
		listen:    "127.0.0.1:0",
		profile:   fakeinubit.Profile9XML,
		idle:      30 * time.Minute,
		separator: separator,
		once:      true,
	}
}

// startTestStack starts the demo stack and stops it when the test ends.
// The process environment gets its INUBIT_PASSWORD back afterwards.
func startTestStack(t *testing.T, opts options) *stack {
	t.Helper()
	t.Setenv(passwordEnv, "")
	st, err := startStack(opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.close()) })
	return st
}

func TestScriptedUserClearsOpenedIDs(t *testing.T) {
	tests := map[string]struct {
		separator string
		wantSep   string
	}{
		"newline": {separator: "newline", wantSep: "\n"},
		"comma":   {separator: "comma", wantSep: ","},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := startTestStack(t, testOptions(tc.separator))
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()

			var out bytes.Buffer
			opened, err := playUser(ctx, st.baseURL, "alice", &out)
			require.NoError(t, err, out.String())
			require.Len(t, opened, 3)
			res := awaitClear(ctx, st.inubit, "alice", opened)
			require.NoError(t, res.err)

			require.Len(t, res.calls, 1, "one clear call for one logout")
			call := res.calls[0]
			assert.Equal(t, http.MethodPost, call.Method)
			assert.Equal(t, []string{"alice"}, call.Users)
			assert.ElementsMatch(t, opened, call.IDs)
			assert.Len(t, call.IDs, len(opened), "no ID repeated")
			assert.Equal(t, tc.wantSep, call.Separator)
			assert.Equal(t, http.StatusOK, call.Status)
			assert.True(t, call.AuthOK)
			assert.Equal(t, serviceAccount, call.AuthUser)
			assert.True(t, strings.HasPrefix(call.ContentType, "text/plain"), call.ContentType)
			assert.Equal(t, "application/xml", call.Accept)
			assert.ElementsMatch(t, opened, st.inubit.Minted())
			assert.Empty(t, st.inubit.Open())
			assert.ElementsMatch(t, opened[:1], st.inubit.Submitted())
			assert.ElementsMatch(t, opened[1:2], st.inubit.Validated())

			printClearResult(&out, res, clearWait)
			assert.Contains(t, out.String(), "IDs cleared for alice = IDs opened: yes")
			assert.Contains(t, out.String(), "Basic <redacted> (user svc-cleaner, accepted)")
		})
	}
}

// An entry that is only opened shows up in the view response alone, so
// it is cleared only if the handler scans response bodies.
func TestAbandonedFormIsCleared(t *testing.T) {
	st := startTestStack(t, testOptions("newline"))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	b, err := newBrowser(st.baseURL, io.Discard)
	require.NoError(t, err)
	defer b.client.CloseIdleConnections()
	_, err = b.get(ctx, "visit /", "/")
	require.NoError(t, err)
	portalID, err := b.login(ctx, "bob")
	require.NoError(t, err)
	id, err := b.open(ctx, demoapp.Forms[2], portalID, "bob")
	require.NoError(t, err)
	_, err = b.get(ctx, "log out", "/portal/logout")
	require.NoError(t, err)

	waitCtx, cancelWait := context.WithTimeout(ctx, clearWait)
	defer cancelWait()
	res := awaitClear(waitCtx, st.inubit, "bob", []string{id})
	require.NoError(t, res.err, "the opened entry was never cleared")
	assert.True(t, res.ok())
	assert.Empty(t, st.inubit.Open())
}

func TestRunOnce(t *testing.T) {
	t.Setenv(passwordEnv, "")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	var out bytes.Buffer
	require.NoError(t, run(ctx, testOptions("newline"), &out), out.String())
	text := out.String()
	assert.Contains(t, text, "POST "+fakeinubit.ClearPath+"?user=alice")
	assert.Contains(t, text, "IDs cleared for alice = IDs opened: yes (3 entries)")
	assert.NotContains(t, text, "Try it in a browser", "once mode does not serve on")
}

func TestListenAddressTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	opts := testOptions("newline")
	opts.listen = ln.Addr().String()
	st, err := startStack(opts)
	require.Error(t, err)
	assert.Nil(t, st)
	assert.Contains(t, err.Error(), "-listen 127.0.0.1:PORT")
	assert.Contains(t, err.Error(), opts.listen)
}

func TestCaddyfileKeepsPasswordOut(t *testing.T) {
	t.Setenv(passwordEnv, "s3cret-for-test")
	st := &stack{
		opts:    testOptions("comma"),
		fakeURL: "http://127.0.0.1:1",
		appURL:  "http://127.0.0.1:2",
		tmpDir:  t.TempDir(),
	}
	text := st.caddyfile("127.0.0.1:3")
	cfgJSON, err := adaptCaddyfile(text)
	require.NoError(t, err)

	cfg := string(cfgJSON)
	assert.NotContains(t, text, "s3cret-for-test")
	assert.NotContains(t, cfg, "s3cret-for-test")
	assert.Contains(t, cfg, `"password":"{env.INUBIT_PASSWORD}"`)
	assert.Contains(t, cfg, `"separator":"comma"`)
	assert.Contains(t, cfg, `"127.0.0.1:3"`)
	assert.Contains(t, cfg, `"idle_timeout":1800000000000`)
}

func TestParseFlags(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		opts, err := parseFlags(nil, io.Discard)
		require.NoError(t, err)
		assert.Equal(t, options{
			listen:    "127.0.0.1:8080",
			profile:   fakeinubit.Profile9XML,
			idle:      30 * time.Minute,
			separator: "newline",
		}, opts)
	})

	t.Run("all set", func(t *testing.T) {
		opts, err := parseFlags([]string{"-listen", "[::1]:9000", "-profile", "8",
			"-idle", "90s", "-separator", "comma", "-once"}, io.Discard)
		require.NoError(t, err)
		assert.Equal(t, options{
			listen:    "[::1]:9000",
			profile:   fakeinubit.Profile8,
			idle:      90 * time.Second,
			separator: "comma",
			once:      true,
		}, opts)
	})

	bad := map[string]struct {
		args []string
		want string
	}{
		"unknown profile":    {args: []string{"-profile", "10"}, want: "-profile"},
		"unknown separator":  {args: []string{"-separator", "tab"}, want: "-separator"},
		"zero idle":          {args: []string{"-idle", "0s"}, want: "-idle"},
		"all interfaces":     {args: []string{"-listen", ":8080"}, want: "loopback"},
		"public address":     {args: []string{"-listen", "192.0.2.1:8080"}, want: "loopback"},
		"host name":          {args: []string{"-listen", "localhost:8080"}, want: "loopback"},
		"missing port":       {args: []string{"-listen", "127.0.0.1"}, want: "-listen"},
		"stray argument":     {args: []string{"extra"}, want: "unexpected argument"},
		"undefined flag":     {args: []string{"-verbose"}, want: "-verbose"},
		"unparsable timeout": {args: []string{"-idle", "soon"}, want: "-idle"},
		"public admin":       {args: []string{"-admin", "0.0.0.0:2019"}, want: "-admin"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// With -admin, an operator can watch the demo through Caddy's admin
// endpoint: the handler's metrics and its status.
func TestAdminEndpointShowsMetricsAndStatus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	admin := ln.Addr().String()
	require.NoError(t, ln.Close())
	opts := testOptions("newline")
	opts.admin = admin
	st := startTestStack(t, opts)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	opened, err := playUser(ctx, st.baseURL, "alice", &out)
	require.NoError(t, err, out.String())
	require.NoError(t, awaitClear(ctx, st.inubit, "alice", opened).err)

	get := func(path string) string {
		resp, err := http.Get("http://" + admin + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		return string(body)
	}
	assert.Eventually(t, func() bool {
		return strings.Contains(get("/metrics"), "caddy_inubit_sessions_ids_cleared_total 3")
	}, 5*time.Second, 20*time.Millisecond)
	assert.Contains(t, get("/inubit_sessions/status"), `"sessions"`)
}

func TestShortDuration(t *testing.T) {
	tests := map[string]struct {
		in   time.Duration
		want string
	}{
		"minutes":        {in: 30 * time.Minute, want: "30m"},
		"hours":          {in: 12 * time.Hour, want: "12h"},
		"mixed":          {in: 90 * time.Second, want: "1m30s"},
		"hours and mins": {in: 90 * time.Minute, want: "1h30m"},
		"seconds":        {in: 10 * time.Second, want: "10s"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, shortDuration(tc.in))
		})
	}
}
