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
		for _, v := range r.Header[name] { // names are canonical since Provision
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

// appendHelpIDs takes the ID at the start of the params value; a help
// call names one form. One documentation page prints "&params=" as
// "¶ms=" (an entity slip), so a copied client may send the key "¶ms",
// or "¶ms=" inside the previous parameter's value: both are read.
// Nothing else in the query counts, so a link cannot slip IDs into a
// session.
func appendHelpIDs(ids []string, r *http.Request) []string {
	query := r.URL.Query()
	if id, ok := firstHelpID(query["params"]); ok {
		return append(ids, id)
	}
	if id, ok := firstHelpID(query[slippedParams]); ok {
		return append(ids, id)
	}
	for _, values := range query {
		for _, v := range values {
			if _, after, ok := strings.Cut(v, slippedParams+"="); ok {
				if id, ok := sessiontracker.EntryIDFromHelpParams(after); ok {
					return append(ids, id)
				}
			}
		}
	}
	return ids
}

// slippedParams is "&params" after an HTML renderer read "&para" as ¶.
const slippedParams = "¶ms"

// firstHelpID returns the ID that starts the first params value holding one.
func firstHelpID(values []string) (string, bool) {
	for _, v := range values {
		if id, ok := sessiontracker.EntryIDFromHelpParams(v); ok {
			return id, true
		}
	}
	return "", false
}

// requestUser evaluates the user placeholders in order and returns the
// first non-empty result.
func (h *Handler) requestUser(r *http.Request) string {
	var repl *caddy.Replacer
	for _, src := range h.userSources {
		var u string
		if src.header != "" {
			u = headerPlaceholder(r.Header, src.header)
		} else {
			if repl == nil {
				if repl, _ = r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); repl == nil {
					return ""
				}
			}
			u = expandPlaceholder(repl, src.placeholder)
		}
		u = trimSpaces(u)
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

// userSource is one entry of the user list, prepared at Provision: a
// request header's canonical name for {http.request.header.*}, else the
// placeholder text for Caddy's replacer.
type userSource struct {
	header      string
	placeholder string
}

// headerUserPrefix is the placeholder of a request header, the usual
// way a user reaches this handler (set by a login proxy or forward_auth).
const headerUserPrefix = "{http.request.header."

// userSources prepares the user placeholders. A lone request-header
// placeholder is read straight from the header, the way Caddy's replacer
// reads it (all values joined by commas), without walking the replacer's
// providers on every request.
func userSources(placeholders []string) []userSource {
	out := make([]userSource, len(placeholders))
	for i, p := range placeholders {
		out[i].placeholder = p
		field, ok := strings.CutPrefix(p, headerUserPrefix)
		if ok && strings.HasSuffix(field, "}") && !strings.ContainsAny(field[:len(field)-1], "{}") && len(field) > 1 {
			out[i].header = http.CanonicalHeaderKey(field[:len(field)-1])
		}
	}
	return out
}

// headerPlaceholder is the value of {http.request.header.NAME} for a
// canonical NAME, as Caddy's replacer gives it.
func headerPlaceholder(header http.Header, name string) string {
	values := header[name]
	switch len(values) {
	case 0:
		return ""
	case 1:
		return values[0]
	}
	return strings.Join(values, ",")
}

// trimSpaces removes the ASCII spaces around s (and only spaces: any
// other white space or control character makes the user invalid).
func trimSpaces(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == ' ' {
		s = s[:len(s)-1]
	}
	return s
}

// expandPlaceholder evaluates p; a lone placeholder such as
// {http.auth.user.id} is looked up directly, which saves the
// allocations of a full replacement on every request.
func expandPlaceholder(repl *caddy.Replacer, p string) string {
	if key, ok := strings.CutPrefix(p, "{"); ok && strings.HasSuffix(key, "}") &&
		!strings.ContainsAny(key[:len(key)-1], "{}") {
		v, _ := repl.GetString(key[:len(key)-1])
		return v
	}
	return repl.ReplaceAll(p, "")
}

// keepValidIDs drops IDs over max_id_length and IDs whose path climbs
// out of its folder (.., a leading / or an empty segment), counting them.
func (h *Handler) keepValidIDs(ids []string) []string {
	kept := ids[:0]
	for _, id := range ids {
		switch {
		case len(id) > h.MaxIDLength:
			h.state.refused.add(refusedIDTooLong, 1)
		case !plainIDPath(id):
			h.state.refused.add(refusedIDPath, 1)
		default:
			kept = append(kept, id)
		}
	}
	return kept
}

// plainIDPath reports whether the path part of an entry ID (between the
// @@@ markers) is a plain relative path: no "..", no leading "/", no "//".
// The ID has passed the entry ID grammar, whose path holds no '@', so the
// path ends at the first one.
func plainIDPath(id string) bool {
	path := strings.TrimPrefix(id, idMarker+"@@@")
	if i := strings.IndexByte(path, '@'); i >= 0 {
		path = path[:i]
	}
	return !strings.HasPrefix(path, "/") && !strings.Contains(path, "//") &&
		!strings.Contains(path, "..")
}

// maxUserLength bounds a user name taken from a request.
const maxUserLength = 256

// printableASCII reports whether s holds only the ASCII characters from
// space to tilde.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// validUser refuses user names no INUBIT account has and the queue could
// not keep apart: invalid UTF-8, control characters (NUL, CR, LF, tab
// among them, also at either end), invisible format characters (bidi
// overrides, zero-width spaces, BOM), line and paragraph separators, and
// overlong values. A refused value counts as no user; it is not trimmed
// into a valid one.
func validUser(u string) bool {
	if len(u) > maxUserLength {
		return false
	}
	if printableASCII(u) {
		return true // the usual account name: nothing more to check
	}
	if !utf8.ValidString(u) {
		return false
	}
	for _, r := range u {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.In(r, unicode.Zl, unicode.Zp) ||
			(r != ' ' && unicode.IsSpace(r)) {
			return false
		}
	}
	return true
}
