package browsertest

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/internal/demoapp"
)

// stepWait bounds one step in the page: a navigation, a click and what
// it starts. Generous for a loaded two-core machine.
const stepWait = 15 * time.Second

// entryID is the shape of an INUBIT entry ID shown on the portal.
var entryID = regexp.MustCompile(`^webform@@@[A-Za-z0-9_.()/-]+@@@[0-9]+\.xml$`)

// portal is a tab on the demo portal through Caddy, driven like a user:
// typing, clicking buttons and links.
type portal struct {
	t    *testing.T
	tab  context.Context
	base string
}

func (b *chromium) portal(t *testing.T, baseURL string) *portal {
	return &portal{t: t, tab: b.tab, base: baseURL}
}

// do runs actions in the tab within stepWait.
func (p *portal) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, stepWait)
	defer cancel()
	require.NoError(p.t, chromedp.Do(ctx, actions...), what)
}

// text returns the text of the element with the given id.
func (p *portal) text(id string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, stepWait)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	require.NoError(p.t, err, "reading #%s", id)
	return s
}

// visit opens the start page anonymously; the app starts a session and
// shows the login form.
func (p *portal) visit() {
	p.t.Helper()
	p.do("visit /", chromedp.Navigate(p.base+"/"), chromedp.WaitVisible(chromedp.ID("login-form")))
}

// login types user into the login form and submits it. The form is a
// GET, so the handler finds the user in the query; the app answers with
// a new session cookie and a redirect to the portal.
func (p *portal) login(user string) {
	p.t.Helper()
	p.do("log in as "+user,
		chromedp.SendKeys(chromedp.ID("user"), user),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("portal")),
	)
	require.Equal(p.t, user, p.text("user"), "the portal greets the user who logged in")
}

// open clicks a form's Open button and returns the entry ID the page
// shows once INUBIT's form is inserted.
func (p *portal) open(f demoapp.Form) string {
	p.t.Helper()
	p.do("open "+f.Title, chromedp.Click(chromedp.ID("open-"+f.UUID)))
	p.awaitState(f, "opened", "closed", "opening")
	id := p.text("entry-" + f.UUID)
	require.Regexp(p.t, entryID, id, "entry ID shown for %s", f.Title)
	return id
}

// submit clicks an opened form's Submit button; the script sends the
// entry ID in the webappIdentifier header.
func (p *portal) submit(f demoapp.Form) {
	p.t.Helper()
	p.do("submit "+f.Title, chromedp.Click(chromedp.ID("submit-"+f.UUID)))
	p.awaitState(f, "submitted", "opened")
}

// validate clicks an opened form's Validate button; the script names the
// entry ID in the params query of INUBIT's help call.
func (p *portal) validate(f demoapp.Form) {
	p.t.Helper()
	p.do("validate "+f.Title, chromedp.Click(chromedp.ID("validate-"+f.UUID)))
	p.awaitState(f, "valid", "opened")
}

// follow clicks the link with id linkID and waits for the element with
// id landmark on the page it leads to.
func (p *portal) follow(linkID, landmark string) {
	p.t.Helper()
	p.do("follow #"+linkID,
		chromedp.Click(chromedp.ID(linkID)),
		chromedp.WaitVisible(chromedp.ID(landmark)),
	)
}

// awaitState waits until the data-state of a form's status element is no
// longer one of from, and requires it to be want. The portal's script
// sets the state when its fetch calls finish; on "error" the status text
// says what failed.
func (p *portal) awaitState(f demoapp.Form, want string, from ...string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, stepWait)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.PollFunction[string](`(id, from) => {
		const el = document.getElementById(id);
		const s = el ? el.dataset.state : '';
		if (from.includes(s)) return false;
		return s === 'error' ? el.textContent : s;
	}`,
		chromedp.WithPollingArgs("status-"+f.UUID, from),
		chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(stepWait),
	))
	require.NoError(p.t, err, "waiting for %s to leave state %q", f.Title, from)
	require.Equal(p.t, want, got, "state of %s", f.Title)
}

// sessionCookie returns the value of the browser's JSESSIONID for the
// site, and whether it has one. The cookie is HttpOnly, so the page's
// script cannot see it; DevTools can.
func (p *portal) sessionCookie() (string, bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, stepWait)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.base}})
	require.NoError(p.t, err, "reading the browser's cookies")
	for _, c := range res.Cookies {
		if c.Name == demoapp.DefaultCookieName {
			return c.Value, true
		}
	}
	return "", false
}
