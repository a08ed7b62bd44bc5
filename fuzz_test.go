package inubitsessions

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// FuzzSessionKey feeds arbitrary Cookie headers and paths to the session
// cookie reader. It must never panic, must read the value net/http reads
// when a header holds one well-formed session cookie, and must only ever
// hash a value that obeys the length and byte rules.
func FuzzSessionKey(f *testing.F) {
	for _, seed := range []struct{ cookie, path string }{
		{"JSESSIONID=ABC", "/"},
		{`a=1; JSESSIONID="ABC"; b=2`, "/x"},
		{"JSESSIONID=ONE; JSESSIONID=TWO", "/"},
		{"jsessionid=ABC", "/app;jsessionid=DEF"},
		{"JSESSIONID=" + strings.Repeat("A", 600), "/"},
		{"JSESSIONID=AB\x01C;;;=;JSESSIONID", "/;jsessionid=;jsessionid=X/"},
		{"JSESSIONID=\xff\xfe", "/logout;jsessionid=Z"},
		{"", "/a;b;c;jsessionid"},
	} {
		f.Add(seed.cookie, seed.path)
	}
	f.Fuzz(func(t *testing.T, cookie, path string) {
		h := cookieHandler()
		hashed := map[sessiontracker.Key]string{}
		r := &http.Request{Header: http.Header{"Cookie": {cookie}}, URL: mustURLPath(path)}
		key, ok := h.sessionKey(r)
		if !ok {
			return
		}
		// Which value was it? It must be one a browser could send.
		for _, v := range candidateValues(cookie, path) {
			hashed[h.state.hasher.Key(v)] = v
		}
		v, found := hashed[key]
		if !found {
			t.Fatalf("key of a value that is not in the request: cookie %q path %q", cookie, path)
		}
		if v == "" || len(v) > h.MaxCookieLength || !validCookieValue(v) {
			t.Fatalf("hashed a value the rules refuse: %q", v)
		}
		// With exactly one well-formed session cookie, net/http agrees.
		if strings.Count(cookie, "JSESSIONID=") == 1 {
			if c, err := (&http.Request{Header: r.Header}).Cookie("JSESSIONID"); err == nil && c.Value != "" &&
				!strings.ContainsAny(c.Value, " ,") && h.state.hasher.Key(c.Value) != key {
				t.Fatalf("net/http reads %q, we hashed %q", c.Value, v)
			}
		}
	})
}

// candidateValues lists every value a cookie pair or path parameter of
// the request could carry, to recognise the one that was hashed.
func candidateValues(cookie, path string) []string {
	var out []string
	for _, part := range strings.Split(cookie, ";") {
		if _, v, ok := strings.Cut(strings.Trim(part, " \t"), "="); ok {
			out = append(out, unquoteCookieValue(strings.Trim(v, " \t")))
		}
	}
	if v, ok := pathSessionParam(path, "jsessionid"); ok {
		out = append(out, v)
	}
	return out
}

// FuzzSetCookie feeds arbitrary Set-Cookie lines to the reader of what a
// response did to the session cookie. It must never panic, and a value it
// reports must be the one net/http parses.
func FuzzSetCookie(f *testing.F) {
	for _, seed := range []string{
		"JSESSIONID=ABC; Path=/; HttpOnly",
		"JSESSIONID=; Max-Age=0",
		"JSESSIONID=X; Expires=Thu, 01-Jan-1970 00:00:10 GMT",
		"JSESSIONID=X; Expires=Sunday, 06-Nov-94 08:49:37 GMT",
		`JSESSIONID="Q"; Max-Age=-1`,
		"jsessionid=lower",
		"JSESSIONID=\x00; Expires=garbage",
	} {
		f.Add(seed)
	}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line string) {
		change := sessionCookieChange([]string{line}, "JSESSIONID", now)
		if change.set {
			c, err := http.ParseSetCookie(line)
			if err != nil || c.Value != change.value || c.Name != "JSESSIONID" {
				t.Fatalf("reported value %q for a line net/http reads as %+v, %v", change.value, c, err)
			}
		}
	})
}

// FuzzCaddyfile feeds arbitrary blocks to the Caddyfile parser and the
// provisioning checks. Neither may panic; a block that parses either
// passes the checks or fails them with an error naming a subdirective.
func FuzzCaddyfile(f *testing.F) {
	for _, seed := range []string{
		"endpoint http://127.0.0.1:8000/ibis/rest/webapp/session/instances\nbasic_auth svc pw",
		"logout /logout /portal/logout*\nidle_timeout 30m\nmax_lifetime 12h",
		"separator comma\nid_header webappIdentifier X-Form",
		"retry_backoff 1s 5m\nbatch_size 100\nconcurrency 4",
		"max_sessions 10\nmax_ids_per_session 2\nmax_cookie_length 64\nmax_id_length 100\nmax_scan_bytes 1MiB",
		"user {http.request.header.user} {http.request.uri.query.user}\nfallback_user svc",
		"session_cookie \"JSESSION ID\"",
		"maintenance_probe 1ms\nauth_retry 0s\nsweep_interval 1ns",
		"{\n}\n}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, block string) {
		// NewTestDispenser exits on a lexer error; Caddy itself reports
		// those before any directive parser runs.
		tokens, err := caddyfile.Tokenize([]byte("inubit_sessions {\n"+block+"\n}"), "Testfile")
		if err != nil {
			return
		}
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)); err != nil {
			return
		}
		if h.SessionCookie == "" {
			h.SessionCookie = DefaultSessionCookie
		}
		h.fillLimitDefaults()
		if err := h.check(); err != nil && !strings.Contains(err.Error(), ":") {
			t.Fatalf("error does not name what is wrong: %v", err)
		}
		_, _ = h.cleanerConfig()
	})
}
