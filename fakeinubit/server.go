// Package fakeinubit emulates the few INUBIT Process Engine REST resources
// that the session plugin calls or watches: the clear call, the health and
// readiness checks, and the standalone web-app calls whose traffic carries
// Queue Manager entry IDs. It is built from the vendor's public
// documentation only and is meant for tests and the demo, never for
// production.
//
// A Server is an http.Handler; mount it under httptest or behind Caddy.
// Every method is safe for concurrent use.
package fakeinubit

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// Profile selects which INUBIT generation the fake imitates. The profiles
// differ only in the shape of error bodies.
type Profile int

const (
	// Profile8 imitates INUBIT 8.x: errors come as Tomcat-style HTML
	// status pages.
	Profile8 Profile = iota
	// Profile9XML imitates INUBIT 9.x answering errors with an ApiError
	// XML document (statusCode, message, path, timestamp).
	Profile9XML
	// Profile9JSON imitates INUBIT 9.x answering errors with an ApiError
	// JSON document carrying the same four fields.
	Profile9JSON
)

// String names the profile for test output.
func (p Profile) String() string {
	switch p {
	case Profile8:
		return "inubit8"
	case Profile9XML:
		return "inubit9-xml"
	case Profile9JSON:
		return "inubit9-json"
	}
	return "unknown"
}

// Paths of the resources the fake answers.
const (
	// ClearPath is the clear call: POST with ?user=NAME.
	ClearPath = "/ibis/rest/webapp/session/instances"
	// HealthcheckPath is the unauthenticated health check.
	HealthcheckPath = "/ibis/rest/healthcheck"
	// ReadyPath is the readiness probe.
	ReadyPath = "/ibis/rest/ready"
	// ViewPrefix is followed by a web app's WAC UUID; a POST opens a form.
	ViewPrefix = "/ibis/rest/webapp/standalone/view/"
	// SubmitPrefix is followed by a web app's WAC UUID; a POST submits a form.
	SubmitPrefix = "/ibis/rest/webapp/standalone/submit/"
	// HelpPath serves server-side validation and help texts.
	HelpPath = "/ibis/rest/task/help"
)

// Defaults for the web-app form page.
const (
	// DefaultPagePadding is how many bytes of filler a form page carries.
	DefaultPagePadding = 4 << 10
	// DefaultChunkSize is the largest piece a form page is written in
	// before the fake flushes.
	DefaultChunkSize = 512
	// DefaultMaxClearBody is the largest clear call body accepted, in bytes.
	DefaultMaxClearBody = 1 << 20
)

// Server is the fake INUBIT. Create it with New.
type Server struct {
	profile Profile

	// options, fixed after New
	health503      bool
	healthNumeric  bool
	healthTypo     bool
	notReadyStatus int
	webappMaint    bool
	padding        int
	chunkSize      int
	maxClearBody   int
	now            func() time.Time
	observeClear   func(ClearCall)

	mu          sync.Mutex
	accounts    map[string]string
	maintenance bool
	failStatus  int
	failLeft    int
	refusedIDs  map[string]int // entry ID -> status of a call naming it
	changed     chan struct{}
	state
}

// Option changes how a Server behaves; pass options to New.
type Option func(*Server)

// WithHealthcheck503 makes the health check answer 503 while maintenance
// mode is on, as INUBIT 7.4 and 8.0 did. By default it answers 200 and
// reports maintenance only in the body, as 8.1 and later do.
func WithHealthcheck503() Option {
	return func(s *Server) { s.health503 = true }
}

// WithNumericMaintenanceMode writes maintenancemode as a JSON number (0 or
// 1) instead of the string "0" or "1".
func WithNumericMaintenanceMode() Option {
	return func(s *Server) { s.healthNumeric = true }
}

// WithHealthcheckHeaderTypo sends the health check's media type under the
// misspelled header "Content-Tye", as several documentation examples show,
// so the response carries no JSON Content-Type.
func WithHealthcheckHeaderTypo() Option {
	return func(s *Server) { s.healthTypo = true }
}

// WithNotReadyStatus sets the status of a NOT READY answer from the
// readiness probe. Default: 503 (the 9.0 example); the page text says 500.
func WithNotReadyStatus(status int) Option {
	return func(s *Server) { s.notReadyStatus = status }
}

// WithWebAppMaintenance makes the web-app resources (view, submit, help)
// refuse work with 503 while maintenance mode is on. By default only the
// clear call, health check and readiness probe notice maintenance, so a
// demo keeps working while the plugin's retries are watched.
func WithWebAppMaintenance() Option {
	return func(s *Server) { s.webappMaint = true }
}

// WithPagePadding sets how many bytes of filler a form page carries.
// Default: DefaultPagePadding. Zero means no padding.
func WithPagePadding(n int) Option {
	return func(s *Server) { s.padding = max(n, 0) }
}

// WithChunkSize sets the largest piece a form page is written in before a
// flush. Default: DefaultChunkSize. Values below 1 mean the default.
func WithChunkSize(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.chunkSize = n
		}
	}
}

// WithMaxClearBody sets the largest clear call body accepted, in bytes;
// a larger one answers 413. INUBIT documents no limit. Default:
// DefaultMaxClearBody. Values below 1 mean the default.
func WithMaxClearBody(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.maxClearBody = n
		}
	}
}

// WithClock replaces time.Now for every timestamp the fake records or
// writes.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// WithClearCallObserver has observe called with every clear call as
// recorded (credentials redacted) once its answer is written, outside
// the server's lock; calls may be observed concurrently.
func WithClearCallObserver(observe func(ClearCall)) Option {
	return func(s *Server) { s.observeClear = observe }
}

// New returns a fake INUBIT imitating profile p. accounts maps each Basic
// auth user name accepted on the clear call to its password; the map is
// copied.
func New(p Profile, accounts map[string]string, opts ...Option) *Server {
	s := &Server{
		profile:        p,
		notReadyStatus: http.StatusServiceUnavailable,
		padding:        DefaultPagePadding,
		chunkSize:      DefaultChunkSize,
		maxClearBody:   DefaultMaxClearBody,
		now:            time.Now,
		accounts:       make(map[string]string, len(accounts)),
		refusedIDs:     make(map[string]int),
		changed:        make(chan struct{}),
	}
	for user, pass := range accounts {
		s.accounts[user] = pass
	}
	for _, opt := range opts {
		opt(s)
	}
	s.state = newState()
	return s
}

// Profile reports the profile the server was created with.
func (s *Server) Profile() Profile { return s.profile }

// ServeHTTP routes a request to the emulated resource. Unknown paths get a
// 404 with the profile's error body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == ClearPath:
		s.serveClear(w, r)
	case p == HealthcheckPath:
		s.serveHealthcheck(w, r)
	case p == ReadyPath:
		s.serveReady(w, r)
	case strings.HasPrefix(p, ViewPrefix):
		s.serveView(w, r, strings.TrimPrefix(p, ViewPrefix))
	case strings.HasPrefix(p, SubmitPrefix):
		s.serveSubmit(w, r, strings.TrimPrefix(p, SubmitPrefix))
	case p == HelpPath:
		s.serveHelp(w, r)
	default:
		s.writeError(w, r, http.StatusNotFound, "no such resource")
	}
}

// SetMaintenance switches maintenance mode on or off.
func (s *Server) SetMaintenance(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maintenance = on
	s.notifyLocked()
}

// Maintenance reports whether maintenance mode is on.
func (s *Server) Maintenance() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maintenance
}

// FailNext makes the next n clear calls answer status with the profile's
// error body, whatever their credentials or maintenance mode. A later call
// replaces an earlier one; n <= 0 cancels pending failures.
func (s *Server) FailNext(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failLeft = status, max(n, 0)
}

// SetAccount adds a Basic auth account for the clear call or replaces the
// password of an existing one.
func (s *Server) SetAccount(user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[user] = password
}

// RemoveAccount deletes a Basic auth account, so that its next clear call
// answers 401.
func (s *Server) RemoveAccount(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.accounts, user)
}

// Reset forgets every recorded call and entry, switches maintenance off
// and cancels pending failures and refused entries. Accounts and options
// stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = newState()
	s.maintenance = false
	s.failStatus, s.failLeft = 0, 0
	clear(s.refusedIDs)
	s.notifyLocked()
}
