// Package inubitsessions is a Caddy HTTP handler that clears INUBIT web
// form entries when the browser session that opened them ends.
//
// It tracks browser sessions by cookie, collects the INUBIT Queue Manager
// entry IDs each session touches, and once a session ends (logout route,
// session cookie deleted by the upstream, idle timeout, maximum lifetime)
// posts those IDs to INUBIT's webapp session-instances endpoint, off the
// request path, per user, retrying until INUBIT acknowledges them.
package inubitsessions

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the Handler's optional fields.
const (
	DefaultSessionCookie = "JSESSIONID"
	DefaultIDHeader      = "webappIdentifier"
	DefaultIdleTimeout   = 30 * time.Minute
	DefaultMaxLifetime   = 12 * time.Hour

	DefaultMaxSessions       = 100_000
	DefaultMaxIDsPerSession  = 256
	DefaultMaxCookieLength   = 512
	DefaultMaxIDLength       = sessiontracker.MaxEntryIDLength
	DefaultMaxScanBytes      = 16 << 20
	DefaultMaxIDsWithoutUser = 100_000
	defaultUser              = "{http.auth.user.id}"
)

// Handler tracks browser sessions in front of an INUBIT web application
// and clears the Queue Manager entries of every session that ends.
//
// It passes every request and response through unchanged; it only reads
// the session cookie, a few request headers and query values, and the
// bodies of text responses as they stream by.
type Handler struct {
	// Endpoint is the absolute URL of INUBIT's clear call, for example
	// http://inubit.internal:8000/ibis/rest/webapp/session/instances.
	// Query parameters on it (such as userType=processEngineUser) are
	// kept; the user parameter is set per call. Required.
	Endpoint string `json:"endpoint,omitempty"`

	// BasicAuth holds the INUBIT service account that makes the clear
	// calls. Placeholders such as {env.INUBIT_PASSWORD} or
	// {file./run/secrets/inubit} are expanded when the config loads, so
	// the secret itself need not appear in the config.
	BasicAuth *BasicAuth `json:"basic_auth,omitempty"`

	// SessionCookie is the name of the cookie that identifies a browser
	// session. Default: JSESSIONID.
	SessionCookie string `json:"session_cookie,omitempty"`

	// SessionCookiePath, when set, is the Path of the web app's session
	// cookie (Tomcat: its context path, "/" for the root context).
	// Set-Cookie lines for a cookie of the same name with another Path,
	// such as INUBIT's own Tomcat under /ibis served through the same
	// site, then neither rotate nor end the tracked session. A line
	// without a Path attribute always counts. Default: any path.
	SessionCookiePath string `json:"session_cookie_path,omitempty"`

	// User lists placeholders that give the INUBIT user of a request,
	// tried in order; the first that is not empty wins. Each entry ID is
	// cleared for the user known when it was collected, else for the
	// latest user its session showed. Default: {http.auth.user.id}.
	User []string `json:"user,omitempty"`

	// FallbackUser is the user for entries whose session never showed
	// one. Without it, such entries are kept (counted and logged) but not
	// cleared, because INUBIT requires a user. Default: none.
	FallbackUser string `json:"fallback_user,omitempty"`

	// Logout lists request paths that end the session once their
	// response has gone to the client. Patterns are those of Caddy's path
	// matcher (a * matches anything, e.g. /portal/logout*). Default: none;
	// sessions then end by cookie deletion, idle timeout or max lifetime.
	Logout []string `json:"logout,omitempty"`

	// IdleTimeout ends a session that sent no request for this long.
	// Default: 30m, Tomcat's default session timeout.
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`

	// MaxLifetime ends a session this long after its first request,
	// however active it is. Default: 12h.
	MaxLifetime caddy.Duration `json:"max_lifetime,omitempty"`

	// Separator joins the IDs in the body of a clear call: "newline"
	// (default, as INUBIT's documentation describes) or "comma" (as its
	// example body shows).
	Separator string `json:"separator,omitempty"`

	// IDHeaders are request headers whose value is an entry ID.
	// Default: webappIdentifier.
	IDHeaders []string `json:"id_headers,omitempty"`

	// BatchSize is the most entry IDs sent in one clear call; a user
	// with more gets several calls. Default: 100.
	BatchSize int `json:"batch_size,omitempty"`

	// Timeout bounds one clear call, from connecting to reading the
	// answer. Default: 30s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// RetryMin is the wait after the first failed clear call; it doubles
	// with each further failure up to RetryMax, with jitter.
	// Default: 1s. Caddyfile: first argument of retry_backoff.
	RetryMin caddy.Duration `json:"retry_min,omitempty"`

	// RetryMax caps the wait between retries. Default: 5m.
	// Caddyfile: second argument of retry_backoff.
	RetryMax caddy.Duration `json:"retry_max,omitempty"`

	// Concurrency is how many users' clear calls may be in flight at
	// once. Default: 4.
	Concurrency int `json:"concurrency,omitempty"`

	// HealthCheck is INUBIT's health check, asked without credentials
	// while INUBIT is in maintenance mode (503). Default: the endpoint
	// with .../rest/healthcheck in place of
	// .../rest/webapp/session/instances. Caddyfile: healthcheck.
	HealthCheck string `json:"healthcheck,omitempty"`

	// MaintenanceProbe is how often the health check is asked while
	// INUBIT is in maintenance mode; no clear call is made meanwhile.
	// Default: 10s (six requests a minute).
	MaintenanceProbe caddy.Duration `json:"maintenance_probe,omitempty"`

	// AuthRetry is how long clear calls wait after INUBIT refused the
	// service account (401/403) before trying again; a config reload
	// tries at once. Default: 5m.
	AuthRetry caddy.Duration `json:"auth_retry,omitempty"`

	// TLSCA is a PEM file of certificate authorities to trust for an
	// https endpoint, instead of the system's. Default: the system's.
	// Caddyfile: tls_ca.
	TLSCA string `json:"tls_ca,omitempty"`

	// SweepInterval is how often sessions are checked against
	// IdleTimeout and MaxLifetime. Default: a tenth of the shorter of
	// the two, between 100ms and 1m.
	SweepInterval caddy.Duration `json:"sweep_interval,omitempty"`

	// Storage is the directory of this handler's durable state: the
	// bolt file inubit_sessions.db (mode 0600) holding live sessions'
	// entries, clears not yet acknowledged by INUBIT, parked entries and
	// the key that hashes session cookies. Handlers with the same
	// Storage share that state; it survives config reloads and restarts.
	// Two Caddy processes cannot share one. Default: one directory per
	// INUBIT endpoint under Caddy's data directory
	// (inubit_sessions/<host>-<hash>); a reload that changes the
	// endpoint keeps the running state, but after a restart with a new
	// endpoint the old endpoint's queue stays in its own directory. Set
	// Storage to keep one queue across endpoint changes.
	Storage string `json:"storage,omitempty"`

	// MaxSessions bounds the browser sessions tracked at once. When a
	// new session would go over it, the least recently seen sessions
	// (the excess and another hundredth of the bound) end early and
	// their entries are cleared, as after an idle timeout: the bound
	// never drops an entry. Default: 100000.
	MaxSessions int `json:"max_sessions,omitempty"`

	// MaxIDsPerSession bounds the entry IDs one session keeps. IDs past
	// it are refused (counted, and logged once) and stay in INUBIT's
	// queue; IDs already kept are never dropped. Default: 256.
	MaxIDsPerSession int `json:"max_ids_per_session,omitempty"`

	// MaxCookieLength is the longest session cookie value considered, in
	// bytes. A longer value counts as no session cookie (and is counted);
	// the request passes on untouched. Default: 512.
	MaxCookieLength int `json:"max_cookie_length,omitempty"`

	// MaxIDLength is the longest entry ID kept, in bytes; longer ones are
	// refused and counted. At most 512, which is also the default.
	MaxIDLength int `json:"max_id_length,omitempty"`

	// MaxIDsWithoutUser bounds the entry IDs kept on disk for sessions
	// that never showed a user (and so cannot be cleared until a
	// fallback_user is configured). Past it, such IDs are refused and
	// counted: anyone can make sessions without a user, and this keeps
	// them from filling the disk. Default: 100000.
	MaxIDsWithoutUser int `json:"max_ids_without_user,omitempty"`

	// MaxScanBytes is how much of one response body is scanned for entry
	// IDs, counted after decompression; the rest passes on unscanned and
	// the response is counted. Default: 16 MiB. Caddyfile: a size such
	// as 16MiB or 500kB.
	MaxScanBytes int64 `json:"max_scan_bytes,omitempty"`

	logger      *zap.Logger
	state       *state
	stateKey    string
	attachID    uint64
	logout      logoutMatcher
	userSources []userSource
	now         func() time.Time
}

// BasicAuth is the INUBIT service account for the clear calls.
type BasicAuth struct {
	// Username of the INUBIT service account.
	Username string `json:"username,omitempty"`
	// Password of the INUBIT service account; best given as a
	// placeholder such as {env.INUBIT_PASSWORD}. It is never logged.
	Password string `json:"password,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.inubit_sessions",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets up the handler and attaches it to the shared state of
// its storage, creating that state on first use.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.now = time.Now

	h.fillDefaults()
	if err := h.check(); err != nil {
		return err
	}
	h.warnUnusual()
	for i, name := range h.IDHeaders {
		h.IDHeaders[i] = http.CanonicalHeaderKey(name)
	}
	h.userSources = userSources(h.User)

	// logout routes
	logoutPath := caddyhttp.MatchPath(slices.Clone(h.Logout))
	if err := logoutPath.Provision(ctx); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	h.logout = newLogoutMatcher(logoutPath)

	// delivery settings
	cfg, err := h.cleanerConfig()
	if err != nil {
		return err
	}
	if cfg.Password == "" {
		h.logger.Warn("basic_auth: the password is empty; INUBIT will answer every clear call with 401 " +
			"(is the environment variable or file of its placeholder set?)")
	}

	// storage: chosen per endpoint unless configured
	defaultStorage := h.Storage == ""
	if defaultStorage {
		h.Storage = chooseDefaultStorage(ctx.Done(), cfg.Endpoint)
	}
	storage, err := filepath.Abs(h.Storage)
	if err != nil {
		return fmt.Errorf("storage %q: %w", h.Storage, err)
	}
	h.Storage = storage

	// shared state
	h.stateKey = "inubit_sessions:" + h.Storage
	ts := h.trackerSettings()
	val, _, err := states.LoadOrNew(h.stateKey, func() (caddy.Destructor, error) {
		return newState(h.Storage, defaultStorage, cfg, ts, h.logger)
	})
	if err != nil {
		return fmt.Errorf("starting session state for storage %q: %w", h.Storage, err)
	}
	h.state = val.(*state)
	h.attachID, err = h.state.attach(&attachment{config: ctx.Done(), cfg: cfg, ts: ts, tlsCA: h.TLSCA, logger: h.logger})
	if err != nil {
		return err
	}
	h.registerMetrics(ctx)
	rememberConnKeys(ctx)
	return nil
}

// Cleanup detaches the handler from the shared state; the last handler
// of a storage to leave stops its workers.
func (h *Handler) Cleanup() error {
	if h.stateKey == "" {
		return nil
	}
	if h.state != nil && h.attachID != 0 {
		h.state.detach(h.attachID)
	}
	if refs, ok := states.References(h.stateKey); ok && refs == 1 && !caddy.Exiting() {
		h.state.noteLeftBehind(h.logger) // a reload leaves the storage to no handler
	}
	_, err := states.Delete(h.stateKey)
	return err
}

// ServeHTTP passes the request on and records what it and its response
// showed about the browser session.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	now := h.now()
	obs := sessiontracker.Observation{}
	var sessionUser string // the user the request's live session holds
	if key, ok := h.sessionKey(r); ok {
		obs.Key, obs.HasKey = key, true
		obs.Live, sessionUser = h.state.tracker.Touch(now, obs.Key)
	}
	rw := h.watchResponse(w)
	rw.noSession = !obs.HasKey
	obs.IDs = h.requestIDs(r, rw.ids[:0])
	// Match before next: handle_path and uri rewrite r.URL in place.
	logout := len(h.Logout) > 0 && h.isLogout(r)

	defer rw.stopInflating() // also when next panics
	err := next.ServeHTTP(rw, r)
	obs.IDs = h.keepValidIDs(rw.finish(obs.IDs))

	if rw.cookie.set {
		obs.NewKey, obs.HasNewKey = h.state.hasher.Key(rw.cookie.value), true
	}
	obs.CookieDeleted = rw.cookie.deleted
	obs.Logout = logout && err == nil && !logoutRefused(rw.status)
	if !obs.HasKey && !obs.HasNewKey {
		if len(obs.IDs) > 0 {
			h.state.refused.add(refusedUntracked, len(obs.IDs))
		}
		return err
	}
	obs.User = h.requestUser(r)
	if obs.Live.Found() && !obs.HasNewKey && !obs.CookieDeleted && !obs.Logout && len(obs.IDs) == 0 &&
		(obs.User == "" || obs.User == sessionUser) {
		return err // nothing new: Touch has recorded the activity
	}
	h.state.observed(h.state.tracker.Observe(now, obs))
	return err
}

// logoutRefused reports whether the app answered a logout request with a
// status saying it did not log out: 401 or 403 (a missing login or CSRF
// token) or 405 (a wrong method, e.g. GET where it wants POST). Any other
// answer, a 404 of an app without that route included, ends the session
// as configured.
func logoutRefused(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusMethodNotAllowed:
		return true
	}
	return false
}

// isLogout reports whether the request matches a logout route, also
// when Tomcat's URL rewriting put the session into the path
// (/logout;jsessionid=…).
func (h *Handler) isLogout(r *http.Request) bool {
	if path := withoutSessionParam(r.URL.Path, h.pathParamName()); path != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = path, ""
		r = r.WithContext(r.Context())
		r.URL = &u
	}
	return h.logout.matches(r)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
