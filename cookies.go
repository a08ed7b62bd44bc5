package inubitsessions

import (
	"iter"
	"net/http"
	"strings"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// maxSameNameCookies bounds how many session cookies of one request are
// hashed to find the tracked one; browsers send one per matching path.
const maxSameNameCookies = 8

// The rules for reading the session cookie, as browsers send it and
// Tomcat reads it:
//   - Names match exactly, case included (RFC 6265; Tomcat does the
//     same): jsessionid=… is not JSESSIONID.
//   - One pair of surrounding double quotes is removed, in requests as in
//     Set-Cookie, so "ABC" and ABC are the same session.
//   - Several cookies of the name (set for different paths): the first
//     one that is tracked wins, else the first one. Browsers list the
//     most specific path first, and Tomcat also takes the first value
//     that names a live session.
//   - A value over max_cookie_length, or with a byte no cookie value may
//     hold, counts as no cookie and is counted.
//   - Without a session cookie, Tomcat's URL rewriting path parameter
//     (;jsessionid=… for JSESSIONID, ;<name>=… for another name) is
//     read instead.
//   - Any number of cookies in a header is read in one pass without
//     allocating; only values of the session cookie are hashed.

// sessionKey returns the key of the browser session the request belongs
// to, if it names one.
func (h *Handler) sessionKey(r *http.Request) (sessiontracker.Key, bool) {
	var (
		first    sessiontracker.Key
		hasFirst bool
		tried    int
	)
	for value, more := range namedCookies(r.Header["Cookie"], h.SessionCookie) {
		if tried == maxSameNameCookies {
			break
		}
		if !h.usableCookieValue(value) {
			continue
		}
		tried++
		key := h.cookieKey(r, value)
		if !hasFirst {
			if !more {
				return key, true // the common case: one cookie of the name
			}
			first, hasFirst = key, true
		}
		if h.state.tracker.Has(key) {
			return key, true
		}
	}
	if hasFirst {
		return first, true
	}
	if value, ok := pathSessionParam(r.URL.Path, h.pathParamName()); ok && h.usableCookieValue(value) {
		return h.cookieKey(r, value), true
	}
	return sessiontracker.Key{}, false
}

// namedCookies yields, in order, the values of the cookies called name in
// the Cookie header lines, each with whether another one may follow (in
// the rest of its line, or in a further line, as HTTP/2 sends them). It
// reads any number of cookies in one pass without allocating.
func namedCookies(lines []string, name string) iter.Seq2[string, bool] {
	return func(yield func(string, bool) bool) {
		for i, line := range lines {
			for len(line) > 0 {
				var pair string
				pair, line, _ = strings.Cut(line, ";")
				value, ok := cookieValue(pair, name)
				if !ok {
					continue
				}
				more := i < len(lines)-1 || strings.Contains(line, name)
				if !yield(value, more) {
					return
				}
			}
		}
	}
}

// usableCookieValue applies the length and byte rules, counting what
// they refuse.
func (h *Handler) usableCookieValue(v string) bool {
	switch {
	case v == "":
		return false
	case len(v) > h.MaxCookieLength:
		h.state.refused.add(refusedCookieTooLong, 1)
		return false
	case !validCookieValue(v):
		h.state.refused.add(refusedCookieInvalid, 1)
		return false
	}
	return true
}

// cookieValue returns the value of one "name=value" pair of a Cookie
// header if its name is name, without its surrounding quotes.
func cookieValue(pair, name string) (string, bool) {
	pair = trimBlanks(pair)
	if len(pair) <= len(name) || pair[len(name)] != '=' || pair[:len(name)] != name {
		return "", false
	}
	return unquoteCookieValue(trimBlanks(pair[len(name)+1:])), true
}

// trimBlanks removes the spaces and tabs around s (strings.Trim with a
// cutset would build that set on every call; this runs per cookie).
func trimBlanks(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// unquoteCookieValue removes one pair of surrounding double quotes.
func unquoteCookieValue(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// validCookieValue accepts the bytes net/http accepts in a cookie value,
// so that a value reads the same in a request and in a Set-Cookie line.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// pathParamName is the name of Tomcat's session path parameter: its
// default jsessionid for the default cookie, else the cookie's name.
func (h *Handler) pathParamName() string {
	if h.SessionCookie == DefaultSessionCookie {
		return "jsessionid"
	}
	return h.SessionCookie
}

// pathSessionParam finds ";name=value" in a path, as Tomcat's URL
// rewriting appends it to the last segment.
func pathSessionParam(path, name string) (string, bool) {
	if strings.IndexByte(path, ';') < 0 {
		return "", false
	}
	for rest := path; ; {
		i := strings.IndexByte(rest, ';')
		if i < 0 {
			return "", false
		}
		rest = rest[i+1:]
		if strings.HasPrefix(rest, name) && len(rest) > len(name) && rest[len(name)] == '=' {
			value := rest[len(name)+1:]
			if end := strings.IndexAny(value, ";/"); end >= 0 {
				value = value[:end]
			}
			return value, value != ""
		}
	}
}

// withoutSessionParam returns path without Tomcat's session path
// parameter, so that /logout;jsessionid=… matches a logout route.
func withoutSessionParam(path, name string) string {
	if strings.IndexByte(path, ';') < 0 {
		return path // nearly every request: no path parameter at all
	}
	i := strings.Index(path, ";"+name+"=")
	if i < 0 {
		return path
	}
	end := strings.IndexAny(path[i+1:], ";/")
	if end < 0 {
		return path[:i]
	}
	return path[:i] + path[i+1+end:]
}

// responseCookieChange reads what a response did to the session cookie,
// leaving out Set-Cookie lines for another path than session_cookie_path.
func (h *Handler) responseCookieChange(lines []string) cookieChange {
	if len(lines) == 0 {
		return cookieChange{} // most responses: no clock read needed
	}
	if h.SessionCookiePath != "" {
		lines = linesForPath(lines, h.SessionCookie, h.SessionCookiePath)
	}
	return sessionCookieChange(lines, h.SessionCookie, h.now())
}

// linesForPath drops the Set-Cookie lines of cookie name whose Path
// attribute names another path than path ("/app" and "/app/" are the
// same). The slice is copied only when a line is dropped.
func linesForPath(lines []string, name, path string) []string {
	var kept []string
	copied := false
	for i, line := range lines {
		c, err := http.ParseSetCookie(line)
		if err != nil || c.Name != name || c.Path == "" || samePath(c.Path, path) {
			if copied {
				kept = append(kept, line)
			}
			continue
		}
		if !copied {
			kept, copied = append([]string(nil), lines[:i]...), true
		}
	}
	if !copied {
		return lines
	}
	return kept
}

// samePath compares cookie paths, ignoring a trailing slash.
func samePath(a, b string) bool {
	trim := func(p string) string {
		if len(p) > 1 {
			return strings.TrimSuffix(p, "/")
		}
		return p
	}
	return trim(a) == trim(b)
}
