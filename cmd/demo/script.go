package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
	"github.com/inubit-caddy/caddy-inubit-sessions/internal/demoapp"
)

// maxPage caps how much of a response the scripted user reads, in bytes.
const maxPage = 1 << 20

// helpTail follows the entry ID in the params of a validation call.
const helpTail = "@@@validation@@@ajaxSubmission@@@null@@@en"

var (
	// portalSession finds the portal's own session ID on its page; the
	// view call sends it as ISSessionId.
	portalSession = regexp.MustCompile(`data-portal-session="([^"]*)"`)
	// scriptID finds the entry ID in the form page's script variable.
	scriptID = regexp.MustCompile(`var webappIdentifier = "(webform@@@[^"]+?\.xml)"`)
)

// browser is the scripted user: an HTTP client with a cookie jar that
// talks to Caddy and prints one line per step.
type browser struct {
	client *http.Client
	base   *url.URL
	cookie string
	out    io.Writer
	step   int
}

// playUser logs in as name through Caddy at baseURL, opens the three
// demo forms, submits the first, validates the second, leaves the third
// untouched (its ID is only ever seen in the form page) and logs out. It
// returns the entry IDs the forms were opened with, in order.
func playUser(ctx context.Context, baseURL, name string, out io.Writer) ([]string, error) {
	b, err := newBrowser(baseURL, out)
	if err != nil {
		return nil, err
	}
	defer b.client.CloseIdleConnections()
	first, second, third := demoapp.Forms[0], demoapp.Forms[1], demoapp.Forms[2]
	fmt.Fprintf(out, "\nScripted user %q, through Caddy:\n", name)

	// anonymous visit, then login with session ID rotation
	if _, err := b.get(ctx, "visit /", "/"); err != nil {
		return nil, err
	}
	portalID, err := b.login(ctx, name)
	if err != nil {
		return nil, err
	}

	// three forms: submit one, validate one, abandon one
	var opened []string
	for _, f := range []demoapp.Form{first, second, third} {
		id, err := b.open(ctx, f, portalID, name)
		if err != nil {
			return nil, err
		}
		opened = append(opened, id)
	}
	if err := b.submit(ctx, first, opened[0]); err != nil {
		return nil, err
	}
	if err := b.validate(ctx, second, opened[1]); err != nil {
		return nil, err
	}

	// logout ends the browser session
	if _, err := b.get(ctx, "log out", "/logout"); err != nil {
		return nil, err
	}
	return opened, nil
}

// newBrowser returns a scripted browser for Caddy at baseURL, with an
// empty cookie jar, that prints its steps to out.
func newBrowser(baseURL string, out io.Writer) (*browser, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &browser{
		client: &http.Client{Jar: jar, Timeout: 10 * time.Second},
		base:   base,
		cookie: demoapp.DefaultCookieName,
		out:    out,
	}, nil
}

// login logs in as name and returns the portal's own session ID, which
// the view call sends as ISSessionId.
func (b *browser) login(ctx context.Context, name string) (string, error) {
	page, err := b.get(ctx, "log in as "+name, "/login?user="+url.QueryEscape(name))
	if err != nil {
		return "", err
	}
	m := portalSession.FindStringSubmatch(page)
	if m == nil {
		return "", errors.New("log in: the page after login is not the portal")
	}
	return m[1], nil
}

// get fetches path, following redirects, and returns the final page.
func (b *browser) get(ctx context.Context, label, path string) (string, error) {
	before := b.sessionCookie()
	resp, body, err := b.do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return "", fmt.Errorf("%s: %w", label, err)
	}
	detail := "GET " + path
	note := cookieChange(b.cookie, before, b.sessionCookie())
	if prev := resp.Request.Response; prev != nil {
		detail += fmt.Sprintf(" (%d, redirected to %s)", prev.StatusCode, resp.Request.URL.Path)
		if expired(prev, b.cookie) {
			note = b.cookie + " deleted, / then set a new anonymous one"
		}
	}
	if note != "" {
		detail += "; " + note
	}
	b.print(label, resp.StatusCode, detail)
	return body, nil
}

// open posts the standalone view call for form f and returns the entry
// ID INUBIT minted for it.
func (b *browser) open(ctx context.Context, f demoapp.Form, portalID, name string) (string, error) {
	label := fmt.Sprintf("open %q", f.Title)
	body := "<webapp><ISSessionId>" + html.EscapeString(portalID) + "</ISSessionId>" +
		"<ISUserName>" + html.EscapeString(name) + "@@@intern</ISUserName></webapp>"
	hdr := http.Header{"Content-Type": {"application/xml"}}
	resp, page, err := b.do(ctx, http.MethodPost, fakeinubit.ViewPrefix+f.UUID, hdr, body)
	if err != nil {
		return "", fmt.Errorf("%s: %w", label, err)
	}
	m := scriptID.FindStringSubmatch(page)
	if m == nil {
		return "", fmt.Errorf("%s: no entry ID in the form page", label)
	}
	b.print(label, resp.StatusCode, "POST "+fakeinubit.ViewPrefix+shortUUID(f.UUID))
	b.printID("entry", m[1])
	return m[1], nil
}

// submit posts form f with its entry ID in the webappIdentifier header.
func (b *browser) submit(ctx context.Context, f demoapp.Form, id string) error {
	label := fmt.Sprintf("submit %q", f.Title)
	hdr := http.Header{
		"Content-Type":          {"application/xml"},
		fakeinubit.SubmitHeader: {id},
	}
	resp, _, err := b.do(ctx, http.MethodPost, fakeinubit.SubmitPrefix+f.UUID, hdr,
		"<data><comment>demo</comment></data>")
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	b.print(label, resp.StatusCode, "POST "+fakeinubit.SubmitPrefix+shortUUID(f.UUID))
	b.printID(fakeinubit.SubmitHeader+":", id)
	return nil
}

// validate asks for server-side validation of form f, naming its entry
// ID at the start of the params query value.
func (b *browser) validate(ctx context.Context, f demoapp.Form, id string) error {
	label := fmt.Sprintf("validate %q", f.Title)
	q := "ajaxType=validation&ajaxMode=Submission&workflowName=@@@ISAjaxCall@@@&params=" +
		url.QueryEscape(id+helpTail)
	resp, answer, err := b.do(ctx, http.MethodPost, fakeinubit.HelpPath+"?"+q, nil, "")
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	if !strings.Contains(answer, "<valid>true</valid>") {
		return fmt.Errorf("%s: INUBIT did not confirm the entry as valid", label)
	}
	b.print(label, resp.StatusCode, "POST "+fakeinubit.HelpPath+"?…&params=…, answer valid")
	b.printID("params:", id+helpTail)
	return nil
}

// do sends one request and reads the answer, which must be 200.
func (b *browser) do(ctx context.Context, method, path string, hdr http.Header, body string) (
	*http.Response, string, error,
) {
	req, err := http.NewRequestWithContext(ctx, method, b.base.String()+path,
		strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPage))
	if err != nil {
		return nil, "", fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("%s %s answered %s", method, path, resp.Status)
	}
	return resp, string(data), nil
}

// sessionCookie returns the session cookie's value in the jar, if any.
func (b *browser) sessionCookie() string {
	for _, c := range b.client.Jar.Cookies(b.base) {
		if c.Name == b.cookie {
			return c.Value
		}
	}
	return ""
}

// cookieChange describes how the session cookie changed, without
// showing its value.
func cookieChange(name, before, after string) string {
	switch {
	case before == after:
		return ""
	case before == "":
		return "new " + name
	case after == "":
		return name + " gone"
	}
	return name + " rotated"
}

// expired reports whether resp told the browser to delete cookie name.
func expired(resp *http.Response, name string) bool {
	for _, c := range resp.Cookies() {
		if c.Name == name && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// shortUUID abbreviates a WAC UUID to its first group for display.
func shortUUID(uuid string) string {
	if i := strings.IndexByte(uuid, '-'); i > 0 {
		return uuid[:i] + "-…"
	}
	return uuid
}
