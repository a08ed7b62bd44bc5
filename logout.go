package inubitsessions

import (
	"net/http"
	"runtime"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// logoutMatcher is Caddy's path matcher for the logout routes with a
// cheap first test in front. Nearly every request is not a logout, and
// the matcher lowercases and cleans the path for each pattern; the
// first test only looks for a word each pattern needs (for
// /portal/logout*, "logout") and calls the matcher when one is there.
type logoutMatcher struct {
	match caddyhttp.MatchPath
	// needs holds, per pattern, the longest literal run of its text
	// (lowercase ASCII, no slash) that any matching path contains. It is
	// nil when some pattern has no such run or a form the first test
	// does not understand (placeholders, escapes, classes): then every
	// request goes to the matcher.
	needs []string
}

// newLogoutMatcher prepares the matcher for provisioned (lowercased)
// patterns.
func newLogoutMatcher(match caddyhttp.MatchPath) logoutMatcher {
	m := logoutMatcher{match: match}
	if runtime.GOOS == "windows" { // the matcher also trims the path there
		return m
	}
	needs := make([]string, 0, len(match))
	for _, pattern := range match {
		need := longestLiteral(pattern)
		if need == "" {
			return m
		}
		needs = append(needs, need)
	}
	m.needs = needs
	return m
}

// longestLiteral returns the longest run of pattern that every path it
// matches contains as is (after ASCII lowercasing), or "" when there is
// none or the pattern is not one the first test can reason about.
func longestLiteral(pattern string) string {
	if strings.ContainsAny(pattern, "{%[\\") {
		return ""
	}
	longest := ""
	for _, run := range strings.FieldsFunc(pattern, func(c rune) bool {
		return c == '*' || c == '?' || c == '/'
	}) {
		if len(run) > len(longest) {
			longest = run
		}
	}
	for i := 0; i < len(longest); i++ {
		if longest[i] >= 0x80 {
			return ""
		}
	}
	return longest
}

// matches reports whether r's path matches a logout pattern.
func (m logoutMatcher) matches(r *http.Request) bool {
	if len(m.match) == 0 {
		return false
	}
	if m.needs != nil && !m.mayMatch(r.URL.Path) {
		return false
	}
	match, _ := m.match.MatchWithError(r)
	return match
}

// mayMatch is the first test: false only when no pattern can match.
// Path cleaning keeps segments whole, so a run without a slash that is
// in the cleaned, lowercased path is in the raw path too, up to case.
func (m logoutMatcher) mayMatch(path string) bool {
	for i := 0; i < len(path); i++ {
		if path[i] >= 0x80 {
			return true // Unicode lowercasing: leave it to the matcher
		}
	}
	for _, need := range m.needs {
		if containsFoldASCII(path, need) {
			return true
		}
	}
	return false
}

// containsFoldASCII reports whether s contains lower, an ASCII lowercase
// string, ignoring ASCII case in s.
func containsFoldASCII(s, lower string) bool {
	n := len(lower)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}
