package inubitsessions

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	input := `inubit_sessions {
		endpoint http://inubit.internal:8000/ibis/rest/webapp/session/instances
		basic_auth svc-cleaner {env.INUBIT_PASSWORD}
		session_cookie JSESSIONID
		session_cookie_path /
		user {http.request.header.user} {http.request.uri.query.user}
		fallback_user svc-forms
		logout /logout /portal/logout*
		idle_timeout 30m
		max_lifetime 12h
		separator comma
		id_header webappIdentifier X-Form-Id
		batch_size 50
		timeout 10s
		retry_backoff 2s 10m
		concurrency 8
		healthcheck http://inubit.internal:8000/ibis/rest/healthcheck
		maintenance_probe 20s
		auth_retry 10m
		tls_ca /etc/ssl/inubit-ca.pem
		sweep_interval 5s
		storage /var/lib/caddy/inubit
		max_sessions 50000
		max_ids_per_session 64
		max_cookie_length 128
		max_id_length 200
		max_scan_bytes 2MiB
		max_ids_without_user 5000
	}`
	var h Handler
	require.NoError(t, h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)))
	assert.Equal(t, Handler{
		Endpoint:          "http://inubit.internal:8000/ibis/rest/webapp/session/instances",
		BasicAuth:         &BasicAuth{Username: "svc-cleaner", Password: "{env.INUBIT_PASSWORD}"},
		SessionCookie:     "JSESSIONID",
		SessionCookiePath: "/",
		User:              []string{"{http.request.header.user}", "{http.request.uri.query.user}"},
		FallbackUser:      "svc-forms",
		Logout:            []string{"/logout", "/portal/logout*"},
		IdleTimeout:       caddy.Duration(30 * time.Minute),
		MaxLifetime:       caddy.Duration(12 * time.Hour),
		Separator:         "comma",
		IDHeaders:         []string{"webappIdentifier", "X-Form-Id"},
		BatchSize:         50,
		Timeout:           caddy.Duration(10 * time.Second),
		RetryMin:          caddy.Duration(2 * time.Second),
		RetryMax:          caddy.Duration(10 * time.Minute),
		Concurrency:       8,
		HealthCheck:       "http://inubit.internal:8000/ibis/rest/healthcheck",
		MaintenanceProbe:  caddy.Duration(20 * time.Second),
		AuthRetry:         caddy.Duration(10 * time.Minute),
		TLSCA:             "/etc/ssl/inubit-ca.pem",
		SweepInterval:     caddy.Duration(5 * time.Second),
		Storage:           "/var/lib/caddy/inubit",
		MaxSessions:       50000,
		MaxIDsPerSession:  64,
		MaxCookieLength:   128,
		MaxIDLength:       200,
		MaxScanBytes:      2 << 20,
		MaxIDsWithoutUser: 5000,
	}, h)
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	tests := map[string]struct {
		body string // block content, on line 2 of the input
		want string
	}{
		"unknown subdirective":         {"endpointt http://x/", `unrecognized subdirective "endpointt"`},
		"endpoint without value":       {"endpoint", "endpoint: want exactly one argument, got 0"},
		"endpoint with two values":     {"endpoint http://a/ http://b/", "endpoint: want exactly one argument, got 2"},
		"endpoint twice":               {"endpoint http://a/\nendpoint http://b/", "endpoint: specified more than once"},
		"basic_auth one arg":           {"basic_auth svc", "basic_auth: want <username> <password>, got 1"},
		"session_cookie empty":         {"session_cookie", "session_cookie: want exactly one argument"},
		"user empty":                   {"user", "user: want at least one argument"},
		"fallback_user two":            {"fallback_user a b", "fallback_user: want exactly one argument"},
		"logout empty":                 {"logout", "logout: want at least one argument"},
		"idle_timeout bad":             {"idle_timeout soon", `idle_timeout: invalid duration "soon"`},
		"idle_timeout zero":            {"idle_timeout 0s", "idle_timeout: duration must be positive"},
		"max_lifetime bad":             {"max_lifetime 12hours", `max_lifetime: invalid duration "12hours"`},
		"separator bad":                {"separator semicolon", `separator: "semicolon" is not newline or comma`},
		"id_header empty":              {"id_header", "id_header: want at least one argument"},
		"batch_size zero":              {"batch_size 0", `batch_size: want a positive integer, got "0"`},
		"batch_size word":              {"batch_size many", `batch_size: want a positive integer, got "many"`},
		"timeout bad":                  {"timeout -1s", "timeout: duration must be positive"},
		"retry_backoff one":            {"retry_backoff 1s", "retry_backoff: want <min> <max>, got 1"},
		"retry_backoff inverted":       {"retry_backoff 5m 1s", `retry_backoff: invalid maximum "1s"`},
		"retry_backoff bad min":        {"retry_backoff x 1s", `retry_backoff: invalid minimum "x"`},
		"concurrency negative":         {"concurrency -2", `concurrency: want a positive integer, got "-2"`},
		"sweep_interval bad":           {"sweep_interval often", `sweep_interval: invalid duration "often"`},
		"storage empty":                {"storage", "storage: want exactly one argument"},
		"healthcheck empty":            {"healthcheck", "healthcheck: want exactly one argument"},
		"maintenance_probe bad":        {"maintenance_probe often", `maintenance_probe: invalid duration "often"`},
		"auth_retry zero":              {"auth_retry 0s", "auth_retry: duration must be positive"},
		"tls_ca two":                   {"tls_ca a.pem b.pem", "tls_ca: want exactly one argument, got 2"},
		"session_cookie_path relative": {"session_cookie_path app", `session_cookie_path: "app" does not start with /`},
		"max_sessions zero":            {"max_sessions 0", `max_sessions: want a positive integer, got "0"`},
		"max_ids_per_session word":     {"max_ids_per_session lots", `max_ids_per_session: want a positive integer`},
		"max_cookie_length empty":      {"max_cookie_length", "max_cookie_length: want exactly one argument"},
		"max_id_length too big":        {"max_id_length 4096", "max_id_length: 4096 is over the most the ID scanner reads, 512"},
		"max_scan_bytes bad":           {"max_scan_bytes huge", `max_scan_bytes: want a positive size such as 16MiB, got "huge"`},
		"max_scan_bytes zero":          {"max_scan_bytes 0", `max_scan_bytes: want a positive size`},
		// checked while parsing, so that the error names the line
		"endpoint relative":         {"endpoint /ibis/rest/webapp/session/instances", "endpoint: \"/ibis/rest/webapp/session/instances\" is not an absolute http or https URL"},
		"endpoint with user":        {"endpoint http://i/x?user=a", "endpoint: remove the user query parameter"},
		"endpoint with credentials": {"endpoint http://svc:pw@i/x", "endpoint: put credentials in basic_auth"},
		"session_cookie semicolon":  {"session_cookie bad;name", `session_cookie: "bad;name" is not a cookie name`},
		"session_cookie space":      {`session_cookie "a b"`, `session_cookie: "a b" is not a cookie name`},
		"id_header space":           {`id_header "bad header"`, `id_header: "bad header" is not a header name`},
		"id_header colon":           {"id_header bad:hdr", `id_header: "bad:hdr" is not a header name`},
		"retry_backoff below floor": {"retry_backoff 1ms 1s", "retry_backoff: 1ms is below the minimum of 10ms"},
		"sweep_interval below":      {"sweep_interval 1ms", "sweep_interval: 1ms is below the minimum of 10ms"},
		"maintenance_probe below":   {"maintenance_probe 10ms", "maintenance_probe: 10ms is below the minimum of 100ms"},
		"auth_retry below":          {"auth_retry 1ms", "auth_retry: 1ms is below the minimum of 100ms"},
		"healthcheck relative":      {"healthcheck /ibis/rest/healthcheck", `healthcheck: "/ibis/rest/healthcheck" is not an absolute http or https URL`},
		"healthcheck not a URL":     {"healthcheck notaurl", `healthcheck: "notaurl" is not an absolute http or https URL`},
		"user placeholder unclosed": {"user {http.request.header.user", "user: \"{http.request.header.user\" has a placeholder without its closing }"},
		"user placeholder empty":    {"user {}", "has an empty placeholder {}"},
		"user placeholder escaped":  {`user \{x} {http.request.header.u`, "has a placeholder without its closing }"},
		"logout empty string":       {`logout ""`, "logout: an empty pattern"},
		"logout without slash":      {"logout logout", `logout: "logout" never matches: a request path starts with /`},
		"logout bad glob":           {"logout /a[", `logout: "/a[" is not a valid pattern`},
		"logout everything":         {"logout *", `logout: "*" matches every request`},
		"logout every path":         {"logout /logout /*", `logout: "/*" matches every request`},
		"logout with a query":       {"logout /logout?x=1", `logout: "/logout?x=1": the query is not part of the path`},
		"id_header Cookie":          {"id_header cookie", "id_header: Cookie is read for entry IDs anyway"},
		"id_header Host":            {"id_header Host", "id_header: Host never holds an entry ID"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			input := "inubit_sessions {\n" + tc.body + "\n}"
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "Testfile:", "the error names the file and line")
		})
	}
}

func TestUnmarshalCaddyfileErrorPointsAtLine(t *testing.T) {
	input := "inubit_sessions {\n\tendpoint http://x/\n\tidle_timeout 30\n}"
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Testfile:3")
}

func TestUnmarshalCaddyfileRejectsInlineArgument(t *testing.T) {
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("inubit_sessions http://x/"))
	require.Error(t, err)
}
