package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/inubit-caddy/caddy-inubit-sessions"
	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
	"github.com/inubit-caddy/caddy-inubit-sessions/internal/demoapp"
)

// serviceAccount is the INUBIT user that makes the clear calls.
const serviceAccount = "svc-cleaner"

// passwordEnv holds the service account's password; the Caddyfile names
// only the placeholder, which the handler expands when it provisions.
const passwordEnv = "INUBIT_PASSWORD"

// stack is everything the demo runs: the fake INUBIT and the portal on
// their own loopback ports, and Caddy in front of both.
type stack struct {
	opts    options
	inubit  *fakeinubit.Server
	baseURL string // Caddy, e.g. http://127.0.0.1:8080
	fakeURL string
	appURL  string
	tmpDir  string
	servers []*http.Server
	caddyOn bool
}

// startStack starts the fake INUBIT, the portal and Caddy. On error,
// whatever had started is stopped again.
func startStack(opts options) (st *stack, err error) {
	listen, err := claimListen(opts.listen)
	if err != nil {
		return nil, err
	}
	st = &stack{opts: opts, baseURL: "http://" + listen}
	defer func() {
		if err != nil {
			_ = st.close()
			st = nil
		}
	}()

	// backends
	password, err := servicePassword()
	if err != nil {
		return nil, err
	}
	st.inubit = fakeinubit.New(opts.profile, map[string]string{serviceAccount: password})
	if st.fakeURL, err = st.serve(st.inubit); err != nil {
		return nil, fmt.Errorf("starting fake INUBIT: %w", err)
	}
	if st.appURL, err = st.serve(demoapp.New(demoapp.Config{})); err != nil {
		return nil, fmt.Errorf("starting demo web app: %w", err)
	}

	// Caddy
	if st.tmpDir, err = os.MkdirTemp("", "inubit-demo-"); err != nil {
		return nil, fmt.Errorf("creating temporary directory: %w", err)
	}
	cfgJSON, err := adaptCaddyfile(st.caddyfile(listen))
	if err != nil {
		return nil, err
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		if addrInUse(err) {
			return nil, portTaken(listen, err)
		}
		return nil, fmt.Errorf("starting Caddy: %w", err)
	}
	st.caddyOn = true
	return st, nil
}

// servicePassword returns INUBIT_PASSWORD, setting it to a random value
// first if it is empty, so that the handler and the fake agree on it.
func servicePassword() (string, error) {
	if pw := os.Getenv(passwordEnv); pw != "" {
		return pw, nil
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	pw := hex.EncodeToString(b)
	if err := os.Setenv(passwordEnv, pw); err != nil {
		return "", fmt.Errorf("setting %s: %w", passwordEnv, err)
	}
	return pw, nil
}

// claimListen checks that Caddy's address is free and resolves port 0 to
// a free port. Another process may still take the port before Caddy
// binds it; Caddy's own error is translated the same way then.
func claimListen(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", portTaken(addr, err)
	}
	resolved := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("probing %s: %w", addr, err)
	}
	return resolved, nil
}

// addrInUse reports whether err comes from binding a port that is taken.
// Caddy does not always wrap the cause, so its text is checked as well.
func addrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) ||
		strings.Contains(err.Error(), "address already in use")
}

// portTaken explains a failed bind and how to pick another address.
func portTaken(addr string, err error) error {
	host, _, splitErr := net.SplitHostPort(addr)
	if splitErr != nil {
		host = "127.0.0.1"
	}
	return fmt.Errorf("cannot listen on %s: %v; pick a free port with -listen %s",
		addr, err, net.JoinHostPort(host, "PORT"))
}

// serve runs h on a free loopback port and returns its base URL.
func (st *stack) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	st.servers = append(st.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// caddyfile renders the demo's Caddyfile for Caddy listening on listen.
func (st *stack) caddyfile(listen string) string {
	host, _, _ := net.SplitHostPort(listen)
	fakeHost := strings.TrimPrefix(st.fakeURL, "http://")
	appHost := strings.TrimPrefix(st.appURL, "http://")
	admin := "off"
	if st.opts.admin != "" {
		admin = st.opts.admin
	}
	return fmt.Sprintf(`{
	admin %[12]s
	persist_config off
	auto_https off
	grace_period 2s
	storage file_system %[1]s
	servers {
		protocols h1
	}
	log default {
		output stderr
		format console
		level WARN
		exclude http.handlers.inubit_sessions admin
	}
	log inubit_sessions {
		output stderr
		format console
		level INFO
		include http.handlers.inubit_sessions
	}
}

http://%[2]s {
	bind %[3]s

	inubit_sessions {
		endpoint http://%[4]s%[5]s
		basic_auth %[6]s {env.%[7]s}
		session_cookie JSESSIONID
		user {http.request.header.user} {http.request.uri.query.user}
		logout /logout /portal/logout*
		idle_timeout %[8]s
		max_lifetime 12h
		separator %[9]s
		storage %[10]s
	}

	reverse_proxy /ibis/* %[4]s
	reverse_proxy %[11]s
}
`, quoteArg(st.tmpDir+string(os.PathSeparator)+"caddy"), listen, host,
		fakeHost, fakeinubit.ClearPath, serviceAccount, passwordEnv,
		shortDuration(st.opts.idle), st.opts.separator,
		quoteArg(st.tmpDir+string(os.PathSeparator)+"sessions"), appHost, admin)
}

// quoteArg writes s as one Caddyfile token, whatever spaces it holds.
func quoteArg(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// shortDuration writes d as Go does, without the zero units it appends:
// 30m rather than 30m0s, 1h rather than 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// adaptCaddyfile turns the Caddyfile into Caddy's JSON config.
func adaptCaddyfile(text string) ([]byte, error) {
	adapter := caddyconfig.GetAdapter("caddyfile")
	if adapter == nil {
		return nil, errors.New("the caddyfile config adapter is not registered")
	}
	cfgJSON, warnings, err := adapter.Adapt([]byte(text), map[string]any{"filename": "demo"})
	if err != nil {
		return nil, fmt.Errorf("adapting the demo Caddyfile: %w", err)
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "demo: Caddyfile warning: %s\n", w)
	}
	return cfgJSON, nil
}

// close stops Caddy, then the backends, and removes the temporary
// directory.
func (st *stack) close() error {
	var errs []error
	if st.caddyOn {
		if err := caddy.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping Caddy: %w", err))
		}
		st.caddyOn = false
	}
	for _, srv := range st.servers {
		if err := srv.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	st.servers = nil
	if st.tmpDir != "" {
		if err := os.RemoveAll(st.tmpDir); err != nil {
			errs = append(errs, err)
		}
		st.tmpDir = ""
	}
	return errors.Join(errs...)
}
