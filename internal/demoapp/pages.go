package demoapp

import (
	"bytes"
	"html/template"
	"net/http"
)

// portalData fills the portal page.
type portalData struct {
	User     string
	PortalID string
	Forms    []Form
}

// pageHead opens every page; it loads nothing from elsewhere.
const pageHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{template "title" .}}</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:60em}
section{border:1px solid #ccc;padding:1em;margin:1em 0}
.status{font-style:italic;margin-left:1em}
.entry{font-family:monospace;font-size:small;word-break:break-all}
</style></head><body>
`

// portalHTML lists the forms; the script in portalScript drives the
// buttons. Element ids are stable so browser tests can click them.
const portalHTML = `{{define "title"}}Demo portal{{end}}` + pageHead + `
<h1>Demo portal</h1>
<p id="portal" data-user="{{.User}}" data-portal-session="{{.PortalID}}">
Logged in as <b id="user">{{.User}}</b>.
<a id="logout" href="/logout">Log out</a> ·
<a id="portal-logout" href="/portal/logout">Log out (portal)</a> ·
<a id="reset" href="/session/reset">Reset session</a>
</p>
{{range .Forms}}
<section id="section-{{.UUID}}" data-uuid="{{.UUID}}">
<h2>{{.Title}}</h2>
<button id="open-{{.UUID}}" data-action="open" data-uuid="{{.UUID}}">Open</button>
<button id="submit-{{.UUID}}" data-action="submit" data-uuid="{{.UUID}}" disabled>Submit</button>
<button id="validate-{{.UUID}}" data-action="validate" data-uuid="{{.UUID}}" disabled>Validate</button>
<span id="status-{{.UUID}}" class="status" data-state="closed">closed</span>
<div id="entry-{{.UUID}}" class="entry"></div>
<div id="form-{{.UUID}}" class="form"></div>
</section>
{{end}}
<script>` + portalScript + `</script>
</body></html>
`

// loginHTML is the start page of a visitor who is not logged in. The
// form uses GET so that the user name is in the query, where the demo's
// user placeholder {http.request.uri.query.user} finds it.
const loginHTML = `{{define "title"}}Demo portal login{{end}}` + pageHead + `
<h1>Demo portal</h1>
{{if .}}<p id="login-error">{{.}}</p>{{end}}
<form id="login-form" method="get" action="/login">
<label>User <input id="user" name="user" autocomplete="username" required></label>
<button id="login" type="submit">Log in</button>
</form>
</body></html>
`

// resetHTML confirms that the session was reset.
const resetHTML = `{{define "title"}}Session reset{{end}}` + pageHead + `
<h1>Session reset</h1>
<p id="reset-done">The session has ended. <a id="home" href="/">Start again</a></p>
</body></html>
`

var (
	portalPage = template.Must(template.New("portal").Parse(portalHTML))
	loginPage  = template.Must(template.New("login").Parse(loginHTML))
	resetPage  = template.Must(template.New("reset").Parse(resetHTML))
)

// render executes t with data into a buffer first, so a template error
// becomes a clean 500 instead of half a page.
func render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "rendering page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func renderPortal(w http.ResponseWriter, d portalData) {
	render(w, http.StatusOK, portalPage, d)
}

func renderLogin(w http.ResponseWriter, status int, problem string) {
	render(w, status, loginPage, problem)
}

func renderReset(w http.ResponseWriter) {
	render(w, http.StatusOK, resetPage, nil)
}
