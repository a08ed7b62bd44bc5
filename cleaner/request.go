package cleaner

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// newClearRequest builds the clear call for one user's batch of IDs.
func newClearRequest(ctx context.Context, cfg Config, endpoint *url.URL, user string, ids []string) (*http.Request, error) {
	u := *endpoint
	u.RawQuery = withUser(endpoint.RawQuery, user)
	body := strings.Join(ids, cfg.Separator)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("Accept", "application/xml")
	req.SetBasicAuth(cfg.Username, cfg.Password)
	return req, nil
}

// withUser returns rawQuery with exactly one user parameter, escaped so
// that no character of the name can start another parameter. Spaces
// become %20 rather than "+", which every servlet container reads alike.
func withUser(rawQuery, user string) string {
	kept := make([]string, 0, 2)
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		key, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err == nil && k == "user" {
			continue
		}
		kept = append(kept, part)
	}
	kept = append(kept, "user="+strings.ReplaceAll(url.QueryEscape(user), "+", "%20"))
	return strings.Join(kept, "&")
}

// maxHintBytes bounds how much of an error answer goes into a log line.
const maxHintBytes = 160

// responseHint reads a short, printable excerpt of an error answer for
// the log. INUBIT puts no secrets there, but the excerpt is still cut
// short and stripped of markup and control characters.
func responseHint(body io.Reader) string {
	buf := make([]byte, 4096)
	n, _ := io.ReadFull(body, buf)
	text := stripTags(string(buf[:n]))
	var b strings.Builder
	space := false
	for _, r := range text {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
		if b.Len() >= maxHintBytes {
			break
		}
	}
	return b.String()
}

// stripTags drops everything between < and >, and the contents of style
// and script elements, turning an HTML or XML error page into its text
// (Tomcat's error page starts with a stylesheet).
func stripTags(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:lt])
		b.WriteByte(' ')
		s = s[lt:]
		if name := skippedElement(s); name != "" {
			// up to the end tag, or to the end of what was read
			end := strings.Index(strings.ToLower(s), "</"+name)
			if end < 0 {
				break
			}
			s = s[end:]
		}
		gt := strings.IndexByte(s, '>')
		if gt < 0 {
			break
		}
		s = s[gt+1:]
	}
	return b.String()
}

// skippedElement returns "style" or "script" when tag opens one of them.
func skippedElement(tag string) string {
	for _, name := range []string{"style", "script"} {
		if len(tag) > len(name)+1 && strings.EqualFold(tag[1:len(name)+1], name) {
			if c := tag[len(name)+1]; c == '>' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '/' {
				return name
			}
		}
	}
	return ""
}
