package browsertest

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/inubit-caddy/caddy-inubit-sessions"
	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
	"github.com/inubit-caddy/caddy-inubit-sessions/internal/demoapp"
)

const (
	serviceUser = "svc-cleaner"
	servicePass = "browser test password"
	passwordEnv = "INUBIT_PASSWORD"

	// clearWait bounds the wait for a clear call after the session ended.
	// The handler posts within milliseconds; the rest is room for a busy
	// two-core machine running other test packages at the same time.
	clearWait = 15 * time.Second
)

// stack is one test's INUBIT emulator and demo web app, each on its own
// loopback port, with Caddy and the handler in front of both.
type stack struct {
	inubit  *fakeinubit.Server
	baseURL string // Caddy's site, http://127.0.0.1:PORT
}

// startStack starts the emulator, the web app and Caddy, and stops them
// when the test ends. Caddy runs in this process, so tests that start a
// stack must not run in parallel.
func startStack(t *testing.T) *stack {
	t.Helper()
	t.Setenv(passwordEnv, servicePass)

	inubit := fakeinubit.New(fakeinubit.Profile9XML, map[string]string{serviceUser: servicePass})
	inubitSrv := httptest.NewServer(inubit)
	t.Cleanup(inubitSrv.Close)
	appSrv := httptest.NewServer(demoapp.New(demoapp.Config{}))
	t.Cleanup(appSrv.Close)

	listen := freeAddr(t)
	text := caddyfile(listen, inubitSrv.Listener.Addr().String(),
		appSrv.Listener.Addr().String(), t.TempDir())
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text),
		map[string]any{"filename": "browsertest"})
	require.NoError(t, err, "adapting the Caddyfile")
	require.Empty(t, warnings)
	require.NoError(t, caddy.Load(cfg, true), "starting Caddy")
	t.Cleanup(func() { assert.NoError(t, caddy.Stop()) })
	return &stack{inubit: inubit, baseURL: "http://" + listen}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// caddyfile is the demo's site: the handler in front of INUBIT's /ibis/*
// and the web app, users from the login query, two logout paths. Admin
// API, automatic HTTPS and Caddy's data all stay out of the way.
func caddyfile(listen, inubitAddr, appAddr, dir string) string {
	return fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	grace_period 1s
	storage file_system %[1]q
	servers {
		protocols h1
	}
	log default {
		output stderr
		level WARN
	}
}

http://%[2]s {
	bind 127.0.0.1

	inubit_sessions {
		endpoint http://%[3]s%[4]s
		basic_auth %[5]s {env.%[6]s}
		session_cookie JSESSIONID
		user {http.request.header.user} {http.request.uri.query.user}
		logout /logout /portal/logout*
		idle_timeout 30m
		max_lifetime 12h
		storage %[7]q
		retry_backoff 50ms 500ms
	}

	reverse_proxy /ibis/* %[3]s
	reverse_proxy %[8]s
}
`, filepath.Join(dir, "caddy"), listen, inubitAddr, fakeinubit.ClearPath,
		serviceUser, passwordEnv, filepath.Join(dir, "sessions"), appAddr)
}

// awaitClear waits until INUBIT accepted clear calls for user that name
// every ID of want, and returns all calls received by then. It fails
// the test if they do not arrive within clearWait.
func (s *stack) awaitClear(t *testing.T, user string, want []string) []fakeinubit.ClearCall {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), clearWait)
	defer cancel()
	var calls []fakeinubit.ClearCall
	err := s.inubit.WaitForClear(ctx, func(got []fakeinubit.ClearCall) bool {
		calls = got
		cleared := s.inubit.Cleared()[user]
		for _, id := range want {
			if !slices.Contains(cleared, id) {
				return false
			}
		}
		return true
	})
	require.NoError(t, err, "INUBIT received no clear call for %s naming %q; calls: %+v",
		user, want, calls)
	return calls
}
