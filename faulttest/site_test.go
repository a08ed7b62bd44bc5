package faulttest

import (
	"fmt"
	"testing"
)

// site is the Caddyfile of one test: the README's site block pointed at
// this test's INUBIT, web app, ports and storage.
type site struct {
	httpPort, httpsPort, adminPort int

	inubit   string // host:port of the fake INUBIT
	app      string // host:port of the web app
	storage  string
	password string // basic_auth password token
	idle     string // idle_timeout
	extra    string // further inubit_sessions subdirectives
	debugLog bool   // log the handler at DEBUG level (session ends)
}

func newSite(t *testing.T, inubit, app string) site {
	return site{
		httpPort:  freePort(t),
		httpsPort: freePort(t),
		adminPort: freePort(t),
		inubit:    inubit,
		app:       app,
		storage:   t.TempDir(),
		password:  "{env.INUBIT_PASSWORD}",
		idle:      "30m",
	}
}

func (s site) caddyfile() string {
	logs := ""
	if s.debugLog {
		logs = `
	log default {
		exclude http.handlers.inubit_sessions
	}
	log inubit {
		level DEBUG
		include http.handlers.inubit_sessions
	}`
	}
	extra := ""
	if s.extra != "" {
		extra = "\n\t\t" + s.extra
	}
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	auto_https off
	default_bind 127.0.0.1
	http_port %d
	https_port %d
	grace_period 1s%s
}

http://127.0.0.1:%d {
	inubit_sessions {
		endpoint http://%s/ibis/rest/webapp/session/instances
		basic_auth %s %s
		session_cookie JSESSIONID
		user {http.request.header.user} {http.request.uri.query.user}
		logout /logout /portal/logout*
		idle_timeout %s
		storage %s
		retry_backoff 100ms 1s
		maintenance_probe 1s%s
	}
	reverse_proxy /ibis/* %s
	reverse_proxy %s
}
`, s.adminPort, s.httpPort, s.httpsPort, logs, s.httpPort, s.inubit, serviceUser, s.password,
		s.idle, s.storage, extra, s.inubit, s.app)
}
