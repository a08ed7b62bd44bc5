package fakeinubit

import (
	"net/http"
	"slices"
	"time"
)

// ClearCall is what the fake saw of one request to the clear resource,
// accepted or not.
type ClearCall struct {
	// Time is when the call arrived, from the server's clock.
	Time time.Time
	// Method is the request method.
	Method string
	// RawQuery is the undecoded query string.
	RawQuery string
	// Users holds every decoded value of the user query parameter, in
	// order; a well-formed call has exactly one.
	Users []string
	// Header is a copy of the request header with Authorization and
	// X-Auth-Token values replaced by "REDACTED".
	Header http.Header
	// AuthPresented reports whether Basic credentials came with the call.
	AuthPresented bool
	// AuthUser is the Basic auth user name presented; the password is
	// never stored.
	AuthUser string
	// AuthOK reports whether the credentials matched an account.
	AuthOK bool
	// ContentType is the Content-Type request header.
	ContentType string
	// Accept is the Accept request header.
	Accept string
	// Body is the raw request body.
	Body string
	// Separator is "\n" when the body contained a newline, else ",".
	Separator string
	// IDs are the entry IDs parsed from Body, blanks dropped.
	IDs []string
	// Status is the status code the fake answered.
	Status int
}

// Entry is one Queue Manager entry minted by a form view.
type Entry struct {
	// ID is the entry ID, the form's file name in the Queue Manager.
	ID string
	// WebApp is the WAC UUID taken from the view path.
	WebApp string
	// SessionID is the ISSessionId found in the view request body, if any.
	SessionID string
	// UserName is the ISUserName found in the view request body, if any.
	UserName string
	// Opened is when the entry was minted.
	Opened time.Time
	// Submitted reports whether the form was submitted.
	Submitted bool
	// Cleared reports whether an accepted clear call named the entry.
	Cleared bool
}

// state is everything Reset forgets; guarded by Server.mu.
type state struct {
	calls        []ClearCall
	cleared      map[string][]string
	entries      []*Entry
	byID         map[string]*Entry
	opens        map[string]int
	submitted    []string
	validated    []string
	healthchecks int
	readies      int
	seq          int
}

func newState() state {
	return state{
		cleared: make(map[string][]string),
		byID:    make(map[string]*Entry),
		opens:   make(map[string]int),
	}
}

// notifyLocked wakes every waiter; the caller holds s.mu.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (c ClearCall) clone() ClearCall {
	c.Users = slices.Clone(c.Users)
	c.IDs = slices.Clone(c.IDs)
	c.Header = c.Header.Clone()
	return c
}

// Calls returns a copy of every clear call recorded, oldest first.
func (s *Server) Calls() []ClearCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callsLocked()
}

func (s *Server) callsLocked() []ClearCall {
	out := make([]ClearCall, len(s.calls))
	for i, c := range s.calls {
		out[i] = c.clone()
	}
	return out
}

// ClearCallCount returns how many clear calls arrived, accepted or not.
func (s *Server) ClearCallCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Cleared maps each user to the IDs named by that user's accepted (200)
// clear calls, in arrival order with duplicates kept.
func (s *Server) Cleared() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]string, len(s.cleared))
	for user, ids := range s.cleared {
		out[user] = slices.Clone(ids)
	}
	return out
}

// Minted returns every entry ID minted by a form view, oldest first.
func (s *Server) Minted() []string {
	return s.entryIDs(func(*Entry) bool { return true })
}

// Open returns the minted IDs that no accepted clear call has named yet,
// oldest first.
func (s *Server) Open() []string {
	return s.entryIDs(func(e *Entry) bool { return !e.Cleared })
}

func (s *Server) entryIDs(keep func(*Entry) bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{}
	for _, e := range s.entries {
		if keep(e) {
			out = append(out, e.ID)
		}
	}
	return out
}

// Entries returns a copy of every minted entry, oldest first.
func (s *Server) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, len(s.entries))
	for i, e := range s.entries {
		out[i] = *e
	}
	return out
}

// Submitted returns the IDs of accepted form submissions, in order.
func (s *Server) Submitted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.submitted)
}

// Validated returns the IDs named by validation calls, in order.
func (s *Server) Validated() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.validated)
}

// HealthcheckCount returns how many health check requests arrived.
func (s *Server) HealthcheckCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.healthchecks
}

// ReadyCount returns how many readiness requests arrived.
func (s *Server) ReadyCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readies
}
