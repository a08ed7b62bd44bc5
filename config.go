package inubitsessions

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/inubit-caddy/caddy-inubit-sessions/cleaner"
	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// cleanerConfig expands placeholders and checks the delivery settings.
func (h *Handler) cleanerConfig() (cleaner.Config, error) {
	repl := caddy.NewReplacer()
	cfg := cleaner.Config{
		Endpoint:         repl.ReplaceKnown(h.Endpoint, ""),
		BatchSize:        h.BatchSize,
		Timeout:          time.Duration(h.Timeout),
		RetryMin:         time.Duration(h.RetryMin),
		RetryMax:         time.Duration(h.RetryMax),
		Concurrency:      h.Concurrency,
		HealthURL:        repl.ReplaceKnown(h.HealthCheck, ""),
		MaintenanceProbe: time.Duration(h.MaintenanceProbe),
		AuthRetry:        time.Duration(h.AuthRetry),
	}
	if h.TLSCA != "" {
		transport, err := transportWithCA(repl.ReplaceKnown(h.TLSCA, ""))
		if err != nil {
			return cfg, fmt.Errorf("tls_ca: %w", err)
		}
		cfg.Transport = transport
	}
	if h.BasicAuth != nil {
		cfg.Username = repl.ReplaceKnown(h.BasicAuth.Username, "")
		cfg.Password = repl.ReplaceKnown(h.BasicAuth.Password, "")
	}
	switch h.Separator {
	case "", "newline":
		cfg.Separator = cleaner.SeparatorNewline
	case "comma":
		cfg.Separator = cleaner.SeparatorComma
	default:
		return cfg, fmt.Errorf("separator: %q is not newline or comma", h.Separator)
	}
	return cfg, cfg.Check()
}

// check rejects field values that no default can repair.
func (h *Handler) check() error {
	if h.BasicAuth == nil || h.BasicAuth.Username == "" {
		return errors.New("basic_auth: a username is required; INUBIT refuses anonymous clear calls")
	}
	if h.IdleTimeout < 0 {
		return fmt.Errorf("idle_timeout: must not be negative, got %s", time.Duration(h.IdleTimeout))
	}
	if h.MaxLifetime < 0 {
		return fmt.Errorf("max_lifetime: must not be negative, got %s", time.Duration(h.MaxLifetime))
	}
	if h.RetryMin < 0 || h.RetryMax < 0 || (h.RetryMax > 0 && h.RetryMax < h.RetryMin) {
		return errors.New("retry_backoff: need 0 < min <= max")
	}
	for _, f := range []struct {
		name  string
		value caddy.Duration
	}{
		{"retry_backoff", h.RetryMin},
		{"sweep_interval", h.SweepInterval},
		{"maintenance_probe", h.MaintenanceProbe},
		{"auth_retry", h.AuthRetry},
	} {
		if err := checkFloor(f.name, time.Duration(f.value)); err != nil {
			return err
		}
	}
	for _, name := range h.IDHeaders {
		if err := checkIDHeader(name); err != nil {
			return err
		}
	}
	for _, p := range h.User {
		if err := checkUserPlaceholder(p); err != nil {
			return err
		}
	}
	for _, p := range h.Logout {
		if err := checkLogoutPattern(p); err != nil {
			return err
		}
	}
	if h.FallbackUser != "" && !validUser(h.FallbackUser) {
		return errors.New("fallback_user: control characters and names over 256 bytes are not allowed")
	}
	if h.SessionCookiePath != "" {
		if err := checkCookiePath(h.SessionCookiePath); err != nil {
			return err
		}
	}
	if err := h.checkLimits(); err != nil {
		return err
	}
	return checkSessionCookie(h.SessionCookie)
}

// durationFloors keep a typo from turning into a busy loop or a request
// storm against INUBIT.
var durationFloors = map[string]time.Duration{
	"retry_backoff":     10 * time.Millisecond,
	"sweep_interval":    10 * time.Millisecond,
	"maintenance_probe": 100 * time.Millisecond,
	"auth_retry":        100 * time.Millisecond,
}

// checkFloor refuses a set duration below its subdirective's floor.
func checkFloor(name string, d time.Duration) error {
	if floor, ok := durationFloors[name]; ok && d != 0 && d < floor {
		return fmt.Errorf("%s: %s is below the minimum of %s", name, d, floor)
	}
	return nil
}

func checkIDHeader(name string) error {
	if !validToken(name) {
		return fmt.Errorf("id_header: %q is not a header name", name)
	}
	switch http.CanonicalHeaderKey(name) {
	case "Cookie":
		return errors.New("id_header: Cookie is read for entry IDs anyway; id_header names a header whose whole value is one ID")
	case "Host", "Authorization", "Proxy-Authorization":
		return fmt.Errorf("id_header: %s never holds an entry ID; id_header names a header whose whole value is one ID", name)
	}
	return nil
}

func checkSessionCookie(name string) error {
	if !validToken(name) {
		return fmt.Errorf("session_cookie: %q is not a cookie name", name)
	}
	return nil
}

// checkUserPlaceholder refuses a user entry with a placeholder that is
// not closed, such as {http.request.header.user: Caddy would take it as
// text and every clear call would go out for that text as the user. It
// reads braces as Caddy's replacer does (a brace right after a backslash
// is text; a lone closing brace is text). Text without placeholders is
// allowed: one fixed user for all entries.
func checkUserPlaceholder(p string) error {
	if p == "" {
		return errors.New("user: an empty entry")
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '{' || (i > 0 && p[i-1] == '\\') {
			continue
		}
		end := strings.IndexByte(p[i:], '}') + i
		// an escaped closing brace is text, except at the very end
		for end > i && end < len(p)-1 && p[end-1] == '\\' {
			next := strings.IndexByte(p[end+1:], '}')
			if next < 0 {
				end = i - 1
				break
			}
			end += next + 1
		}
		if end < i {
			return fmt.Errorf("user: %q has a placeholder without its closing }", p)
		}
		if end == i+1 {
			return fmt.Errorf("user: %q has an empty placeholder {}", p)
		}
		i = end
	}
	return nil
}

// checkLogoutPattern refuses logout patterns that can never match a
// request path: one that starts with a letter, digit or dot (such as
// "logout"), and a malformed glob (such as "/a[") where Caddy's path
// matcher would use glob matching; its prefix, suffix and substring
// forms (/a[*, *x) take the text as it is.
func checkLogoutPattern(p string) error {
	if p == "" {
		return errors.New("logout: an empty pattern")
	}
	if strings.Contains(p, "{") {
		return nil // a placeholder: known only per request
	}
	if c := p[0]; c != '/' && c != '*' && c != '[' && c != '\\' {
		return fmt.Errorf("logout: %q never matches: a request path starts with /", p)
	}
	if strings.Trim(p, "/*") == "" {
		return fmt.Errorf("logout: %q matches every request: each one would end its session", p)
	}
	if _, query, ok := strings.Cut(p, "?"); ok && strings.Contains(query, "=") {
		return fmt.Errorf("logout: %q: the query is not part of the path a pattern matches ('?' stands for any "+
			"one character); give the path alone", p)
	}
	if strings.Contains(p, "%") {
		return nil // escape-sequence patterns are not globs
	}
	stars := strings.Count(p, "*")
	starts, ends := strings.HasPrefix(p, "*"), strings.HasSuffix(p, "*")
	if (stars == 2 && starts && ends) || (stars == 1 && (starts || ends)) {
		return nil // matched as text by Caddy's fast paths
	}
	if _, err := path.Match(strings.ToLower(p), ""); err != nil {
		return fmt.Errorf("logout: %q is not a valid pattern: %v", p, err)
	}
	return nil
}

// warnUnusual logs settings that are valid but most likely a slip, such as
// idle_timeout 30ms for 30m: the config loads, and the log says what it
// will do.
func (h *Handler) warnUnusual() {
	idle, lifetime := time.Duration(h.IdleTimeout), time.Duration(h.MaxLifetime)
	if idle < time.Minute {
		h.logger.Warn("idle_timeout is under a minute: a session ends after that long without a request "+
			"and its forms are cleared (30m is typical; was minutes meant?)", zap.Duration("idle_timeout", idle))
	}
	if lifetime < idle {
		h.logger.Warn("max_lifetime is shorter than idle_timeout: every session ends at max_lifetime, idle or not",
			zap.Duration("max_lifetime", lifetime), zap.Duration("idle_timeout", idle))
	}
	if timeout := time.Duration(h.Timeout); timeout > 0 && timeout < time.Second {
		h.logger.Warn("timeout is under a second: clear calls INUBIT takes longer to answer fail and are retried",
			zap.Duration("timeout", timeout))
	}
}

// trackerSettings derives the session limits and sweep interval.
func (h *Handler) trackerSettings() trackerSettings {
	cfg := sessiontracker.Config{
		IdleTimeout:      time.Duration(h.IdleTimeout),
		MaxLifetime:      time.Duration(h.MaxLifetime),
		MaxSessions:      h.MaxSessions,
		MaxIDsPerSession: h.MaxIDsPerSession,
	}
	interval := time.Duration(h.SweepInterval)
	if interval <= 0 {
		interval = min(cfg.IdleTimeout, cfg.MaxLifetime) / 10
		interval = min(max(interval, 100*time.Millisecond), time.Minute)
	}
	return trackerSettings{limits: cfg, sweepInterval: interval, fallbackUser: h.FallbackUser,
		maxWithoutUser: h.MaxIDsWithoutUser}
}

// validToken reports whether name is an HTTP token (RFC 9110), the
// grammar of header field names and, by RFC 6265, of cookie names.
func validToken(name string) bool {
	if name == "" {
		return false
	}
	return (&http.Cookie{Name: name, Value: "x"}).Valid() == nil
}

// fillDefaults sets the optional fields left empty to their defaults.
func (h *Handler) fillDefaults() {
	if h.SessionCookie == "" {
		h.SessionCookie = DefaultSessionCookie
	}
	if len(h.User) == 0 {
		h.User = []string{defaultUser}
	}
	if len(h.IDHeaders) == 0 {
		h.IDHeaders = []string{DefaultIDHeader}
	}
	if h.IdleTimeout == 0 {
		h.IdleTimeout = caddy.Duration(DefaultIdleTimeout)
	}
	if h.MaxLifetime == 0 {
		h.MaxLifetime = caddy.Duration(DefaultMaxLifetime)
	}
	h.fillLimitDefaults()
}

// fillLimitDefaults sets the bounds left at zero to their defaults.
func (h *Handler) fillLimitDefaults() {
	if h.MaxSessions == 0 {
		h.MaxSessions = DefaultMaxSessions
	}
	if h.MaxIDsPerSession == 0 {
		h.MaxIDsPerSession = DefaultMaxIDsPerSession
	}
	if h.MaxCookieLength == 0 {
		h.MaxCookieLength = DefaultMaxCookieLength
	}
	if h.MaxIDLength == 0 {
		h.MaxIDLength = DefaultMaxIDLength
	}
	if h.MaxScanBytes == 0 {
		h.MaxScanBytes = DefaultMaxScanBytes
	}
	if h.MaxIDsWithoutUser == 0 {
		h.MaxIDsWithoutUser = DefaultMaxIDsWithoutUser
	}
}

// checkLimits rejects bounds that are negative or beyond what the
// handler can honour.
func (h *Handler) checkLimits() error {
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"max_sessions", int64(h.MaxSessions)},
		{"max_ids_per_session", int64(h.MaxIDsPerSession)},
		{"max_cookie_length", int64(h.MaxCookieLength)},
		{"max_id_length", int64(h.MaxIDLength)},
		{"max_scan_bytes", h.MaxScanBytes},
		{"max_ids_without_user", int64(h.MaxIDsWithoutUser)},
	} {
		if f.value < 0 {
			return fmt.Errorf("%s: must not be negative, got %d", f.name, f.value)
		}
	}
	return checkMaxIDLength(h.MaxIDLength)
}

// checkMaxIDLength refuses a max_id_length the ID scanner cannot honour;
// the Caddyfile parser and the JSON check share it.
func checkMaxIDLength(n int) error {
	if n > sessiontracker.MaxEntryIDLength {
		return fmt.Errorf("max_id_length: %d is over the most the ID scanner reads, %d",
			n, sessiontracker.MaxEntryIDLength)
	}
	return nil
}

// checkCookiePath refuses a session_cookie_path that is not absolute.
func checkCookiePath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("session_cookie_path: %q does not start with /", path)
	}
	return nil
}
