package inubitsessions

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// idMarker starts every entry ID; text without it holds none, which lets
// most requests skip the parsing entirely.
const idMarker = "webform"

// helpPathSuffix ends the path of INUBIT's validation and help call,
// whose params query value starts with an entry ID.
const helpPathSuffix = "/rest/task/help"

// requestIDs appends the entry IDs the request carries: in the ID
// headers, in the query of the help call, and in cookies.
func (h *Handler) requestIDs(r *http.Request, ids []string) []string {
	n := len(ids)
	for _, name := range h.IDHeaders {
		for _, v := range r.Header.Values(name) {
			if id, ok := sessiontracker.EntryIDFromHeader(v); ok {
				ids = append(ids, id)
			} else if v != "" {
				h.state.refused.add(refusedIDHeader, 1)
			}
		}
	}
	h.state.found(sourceHeader, len(ids)-n)
	if strings.HasSuffix(r.URL.Path, helpPathSuffix) && strings.Contains(r.URL.RawQuery, idMarker) {
		n = len(ids)
		ids = appendHelpIDs(ids, r)
		h.state.found(sourceHelpParams, len(ids)-n)
	}
	for _, line := range r.Header["Cookie"] {
		if strings.Contains(line, idMarker) {
			n = len(ids)
			ids = append(ids, sessiontracker.EntryIDsInString(line)...)
			h.state.found(sourceCookie, len(ids)-n)
		}
	}
	return ids
}

// appendHelpIDs takes the ID at the start of each params value. A client
// copied from a documentation page with the "&params=" entity slip sends
// the ID inside another parameter; the whole query is searched then.
func appendHelpIDs(ids []string, r *http.Request) []string {
	found := false
	for _, v := range r.URL.Query()["params"] {
		if id, ok := sessiontracker.EntryIDFromHelpParams(v); ok {
			ids = append(ids, id)
			found = true
		}
	}
	if !found {
		ids = append(ids, sessiontracker.EntryIDsInString(r.URL.RawQuery)...)
	}
	return ids
}

// requestUser evaluates the user placeholders in order and returns the
// first non-empty result.
func (h *Handler) requestUser(r *http.Request) string {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		return ""
	}
	for _, p := range h.User {
		u := strings.TrimSpace(repl.ReplaceAll(p, ""))
		if u == "" {
			continue
		}
		if validUser(u) {
			return u
		}
		h.state.refused.add(refusedUser, 1)
	}
	return ""
}

// keepShortIDs drops IDs over max_id_length, counting them.
func (h *Handler) keepShortIDs(ids []string) []string {
	if h.MaxIDLength >= sessiontracker.MaxEntryIDLength {
		return ids // nothing longer is ever extracted
	}
	kept := ids[:0]
	for _, id := range ids {
		if len(id) > h.MaxIDLength {
			h.state.refused.add(refusedIDTooLong, 1)
			continue
		}
		kept = append(kept, id)
	}
	return kept
}

// maxUserLength bounds a user name taken from a request.
const maxUserLength = 256

// validUser refuses user names no INUBIT account has and the queue could
// not keep apart: invalid UTF-8, control characters (NUL, CR, LF among
// them) and overlong values. A refused value counts as no user.
func validUser(u string) bool {
	if len(u) > maxUserLength || !utf8.ValidString(u) {
		return false
	}
	for _, r := range u {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
