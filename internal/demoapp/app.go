// Package demoapp is a small web application standing in for a customer's
// portal behind the session plugin. It keeps Tomcat-like sessions in a
// JSESSIONID cookie and serves a page whose script opens, submits and
// validates INUBIT web-app forms through relative /ibis/... URLs, so it
// must share an origin with the INUBIT endpoints (in the demo, Caddy
// routes /ibis/* to the fake INUBIT and everything else here).
package demoapp

import (
	"net/http"
)

// Form is one INUBIT web-app form the portal offers.
type Form struct {
	// UUID is the web app's WAC UUID, the last segment of its view URL.
	UUID string
	// Title is the label shown to the user.
	Title string
}

// Forms are the forms offered when Config.Forms is empty.
var Forms = []Form{
	{UUID: "3f6c1a52-8d4e-4b7a-9c21-5e0b7d9a4f13", Title: "Leave request"},
	{UUID: "a1d94e07-2c5b-4f88-b6e3-0c7f1b2d8e49", Title: "Travel expenses"},
	{UUID: "c8b27f3e-6a10-4d5c-8e97-41f2a6b0d735", Title: "Address change"},
}

// DefaultCookieName is the session cookie's name unless configured.
const DefaultCookieName = "JSESSIONID"

// Config adjusts an App; the zero value is a working configuration.
type Config struct {
	// CookieName names the session cookie. Default: DefaultCookieName.
	CookieName string
	// Forms are the forms the portal lists. Default: Forms.
	Forms []Form
	// SecureCookie adds the Secure attribute to the session cookie; set it
	// when the app is reached over HTTPS only. Default: off.
	SecureCookie bool
}

// App is the demo web application, an http.Handler safe for concurrent
// use. Create it with New.
type App struct {
	cookie string
	secure bool
	forms  []Form
	store  *store
	mux    *http.ServeMux
}

// New returns an App configured by cfg.
func New(cfg Config) *App {
	a := &App{
		cookie: cfg.CookieName,
		secure: cfg.SecureCookie,
		forms:  cfg.Forms,
		store:  newStore(),
		mux:    http.NewServeMux(),
	}
	if a.cookie == "" {
		a.cookie = DefaultCookieName
	}
	if len(a.forms) == 0 {
		a.forms = Forms
	}
	a.mux.HandleFunc("GET /{$}", a.serveIndex)
	a.mux.HandleFunc("GET /login", a.serveLogin)
	a.mux.HandleFunc("POST /login", a.serveLogin)
	a.mux.HandleFunc("GET /logout", a.serveLogout)
	a.mux.HandleFunc("GET /portal/logout", a.serveLogout)
	a.mux.HandleFunc("GET /session/reset", a.serveReset)
	a.mux.HandleFunc("GET /whoami", a.serveWhoami)
	return a
}

// ServeHTTP serves the routes:
//
//	GET  /                 portal page, or a login form; creates an anonymous session
//	GET  /login?user=NAME  log in (POST with a form field works too); rotates the session ID
//	GET  /logout           end the session and delete its cookie
//	GET  /portal/logout    the same under a second path
//	GET  /session/reset    end the session and delete its cookie, without being a logout URL
//	GET  /whoami           JSON {"user": ..., "loggedIn": ...}
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}

// CookieName returns the name of the session cookie.
func (a *App) CookieName() string { return a.cookie }

// SessionCount returns how many sessions, anonymous or logged in, are live.
func (a *App) SessionCount() int { return a.store.count() }
