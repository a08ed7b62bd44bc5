package fakeinubit

import (
	"crypto/subtle"
	"io"
	"net/http"
	"strings"
)

// redacted replaces credential header values in recorded calls.
const redacted = "REDACTED"

// serveClear answers the clear call. Checks run in this order: method,
// injected failure, maintenance, body size, credentials, user parameter,
// refused entries.
// Every call is recorded, whatever its answer, before the answer is
// written.
func (s *Server) serveClear(w http.ResponseWriter, r *http.Request) {
	limit := s.maxClearBody
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	tooBig := len(body) > limit
	if tooBig {
		body = body[:limit]
	}
	call := ClearCall{
		Time:        s.now(),
		Method:      r.Method,
		RawQuery:    r.URL.RawQuery,
		Users:       r.URL.Query()["user"],
		Header:      redactHeader(r.Header),
		ContentType: r.Header.Get("Content-Type"),
		Accept:      r.Header.Get("Accept"),
		Body:        string(body),
	}
	call.IDs, call.Separator = ParseIDs(call.Body)
	authUser, authPass, hasAuth := r.BasicAuth()
	call.AuthPresented, call.AuthUser = hasAuth, authUser

	s.mu.Lock()
	call.AuthOK = hasAuth && s.passwordMatchesLocked(authUser, authPass)
	status, msg := s.judgeClearLocked(&call, err != nil, tooBig)
	call.Status = status
	s.calls = append(s.calls, call.clone())
	if status == http.StatusOK {
		s.acceptClearLocked(call.Users[0], call.IDs)
	}
	s.notifyLocked()
	s.mu.Unlock()

	if s.observeClear != nil {
		defer s.observeClear(call)
	}
	if status != http.StatusOK {
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		s.writeError(w, r, status, msg)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// judgeClearLocked picks the answer to a clear call; the caller holds s.mu.
func (s *Server) judgeClearLocked(c *ClearCall, readErr, tooBig bool) (int, string) {
	switch {
	case c.Method != http.MethodPost:
		return http.StatusMethodNotAllowed, "only POST is allowed here"
	case s.failLeft > 0:
		s.failLeft--
		return s.failStatus, "injected failure"
	case s.maintenance:
		return http.StatusServiceUnavailable, "server is in maintenance mode"
	case readErr:
		return http.StatusBadRequest, "request body could not be read"
	case tooBig:
		return http.StatusRequestEntityTooLarge, "request body too large"
	case !c.AuthOK:
		return http.StatusUnauthorized, "authentication failed"
	case len(c.Users) != 1 || c.Users[0] == "":
		return http.StatusBadRequest, "query parameter user must be given once"
	}
	if status := s.refusalLocked(c.IDs); status != 0 {
		return status, "entry refused"
	}
	return http.StatusOK, ""
}

// passwordMatchesLocked checks Basic credentials; the caller holds s.mu.
func (s *Server) passwordMatchesLocked(user, pass string) bool {
	want, ok := s.accounts[user]
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
}

// acceptClearLocked books an accepted clear call; the caller holds s.mu.
// Unknown and already cleared IDs are accepted too, so clears can repeat.
func (s *Server) acceptClearLocked(user string, ids []string) {
	s.cleared[user] = append(s.cleared[user], ids...)
	for _, id := range ids {
		if e, ok := s.byID[id]; ok {
			e.Cleared = true
		}
	}
}

// ParseIDs splits a clear call body into entry IDs the way the fake reads
// it: a body holding a newline is one ID per line ("\r\n" tolerated),
// anything else is comma separated. Surrounding blanks are trimmed and
// empty items dropped. The separator found is returned as "\n" or ",".
func ParseIDs(body string) (ids []string, sep string) {
	sep = ","
	if strings.Contains(body, "\n") {
		sep = "\n"
	}
	ids = []string{}
	for _, item := range strings.Split(body, sep) {
		if item = strings.TrimSpace(item); item != "" {
			ids = append(ids, item)
		}
	}
	return ids, sep
}

// redactHeader copies h with credential values hidden.
func redactHeader(h http.Header) http.Header {
	out := h.Clone()
	for _, name := range []string{"Authorization", "X-Auth-Token"} {
		if vals := out.Values(name); len(vals) > 0 {
			out[name] = []string{redacted}
		}
	}
	return out
}
