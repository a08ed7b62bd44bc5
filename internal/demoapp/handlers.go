package demoapp

import (
	"encoding/json"
	"net/http"
	"strings"
)

// maxUserName caps the length of a login name, in bytes.
const maxUserName = 64

// serveIndex shows the portal to a logged-in user and the login form to
// anyone else, starting an anonymous session first if there is none.
func (a *App) serveIndex(w http.ResponseWriter, r *http.Request) {
	s, _, ok := a.current(r)
	if !ok {
		a.setSessionCookie(w, a.store.create(""))
	}
	noStore(w)
	if s.user == "" {
		renderLogin(w, http.StatusOK, "")
		return
	}
	renderPortal(w, portalData{User: s.user, PortalID: s.portalID, Forms: a.forms})
}

// serveLogin logs in as the user named by the user field. Like Tomcat's
// session fixation protection it always issues a new session ID and
// forgets the one the request came with.
func (a *App) serveLogin(w http.ResponseWriter, r *http.Request) {
	user := strings.TrimSpace(r.FormValue("user"))
	if user == "" || len(user) > maxUserName {
		noStore(w)
		renderLogin(w, http.StatusBadRequest, "Please enter a user name of up to 64 bytes.")
		return
	}
	if _, old, ok := a.current(r); ok {
		a.store.drop(old)
	}
	a.setSessionCookie(w, a.store.create(user))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// serveLogout ends the session, deletes the cookie and returns to the
// start page.
func (a *App) serveLogout(w http.ResponseWriter, r *http.Request) {
	a.endSession(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// serveReset ends the session and deletes the cookie like a logout, but
// under a path that no logout rule matches, so tests can watch the
// upstream delete the cookie on its own.
func (a *App) serveReset(w http.ResponseWriter, r *http.Request) {
	a.endSession(w, r)
	noStore(w)
	renderReset(w)
}

// whoami is the document GET /whoami answers.
type whoami struct {
	User     string `json:"user"`
	LoggedIn bool   `json:"loggedIn"`
}

// serveWhoami reports the logged-in user without creating a session.
func (a *App) serveWhoami(w http.ResponseWriter, r *http.Request) {
	s, _, _ := a.current(r)
	noStore(w)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(whoami{User: s.user, LoggedIn: s.user != ""})
}

// noStore keeps browsers and proxies from caching a per-session answer.
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}
