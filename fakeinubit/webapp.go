package fakeinubit

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// SubmitHeader is the request header naming the entry a submit is for.
const SubmitHeader = "webappIdentifier"

// maxViewBody caps the view request body the fake reads, in bytes.
const maxViewBody = 64 << 10

// viewProperty finds a property in the view request body, written either
// as <ISSessionId>value</ISSessionId> or as
// <property name="ISSessionId">value</property>.
var viewProperty = map[string]*regexp.Regexp{
	"ISSessionId": regexp.MustCompile(
		`<(?:ISSessionId|property\s+name="ISSessionId")\s*>([^<]*)<`),
	"ISUserName": regexp.MustCompile(
		`<(?:ISUserName|property\s+name="ISUserName")\s*>([^<]*)<`),
}

// refuseWebApp answers 503 and returns true when web apps are switched to
// honour maintenance mode and it is on.
func (s *Server) refuseWebApp(w http.ResponseWriter, r *http.Request) bool {
	if !s.webappMaint || !s.Maintenance() {
		return false
	}
	s.writeError(w, r, http.StatusServiceUnavailable, "server is in maintenance mode")
	return true
}

// serveView opens a form of web app wac: it mints a new entry ID, records
// it as open and streams a form page that carries the ID in several
// renderings.
func (s *Server) serveView(w http.ResponseWriter, r *http.Request, wac string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeError(w, r, http.StatusMethodNotAllowed, "only POST is allowed here")
		return
	}
	if !validWAC(wac) {
		s.writeError(w, r, http.StatusNotFound, "no such web app")
		return
	}
	if s.refuseWebApp(w, r) {
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxViewBody))
	e := Entry{
		WebApp:    wac,
		SessionID: findProperty(string(body), "ISSessionId"),
		UserName:  findProperty(string(body), "ISUserName"),
		Opened:    s.now(),
	}

	s.mu.Lock()
	s.seq++
	s.opens[wac]++
	e.ID = mintID(wac, s.opens[wac], s.seq)
	s.entries = append(s.entries, &e)
	s.byID[e.ID] = &e
	s.notifyLocked()
	s.mu.Unlock()

	page, cuts := renderFormPage(e.ID, wac, s.padding)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	writeChunked(w, page, chunkBreaks(len(page), s.chunkSize, cuts))
}

// findProperty returns the unescaped value of property name in body.
func findProperty(body, name string) string {
	m := viewProperty[name].FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(html.UnescapeString(m[1]))
}

// mintID builds an entry ID in INUBIT's shape for the n-th opening of web
// app wac, seq being the fake's running counter.
func mintID(wac string, n, seq int) string {
	name := alnum(wac)
	low := strings.ToLower(name)
	return fmt.Sprintf("webform@@@%sWAC/form_%s(%d)_%sapp@@@%d.xml", name, low, n, low, 10000+seq)
}

// validWAC reports whether wac is a plausible WAC UUID: non-empty and
// made of letters, digits, '-', '_' and '.' only.
func validWAC(wac string) bool {
	if wac == "" {
		return false
	}
	for _, c := range wac {
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// alnum keeps only the ASCII letters and digits of s; "x" if none remain.
func alnum(s string) string {
	var b strings.Builder
	for _, c := range s {
		if isAlnum(c) {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// serveSubmit accepts the submission of an open entry named by the
// webappIdentifier header. A missing header answers 400; an entry that
// was never minted for this web app, or was cleared since, answers 404.
func (s *Server) serveSubmit(w http.ResponseWriter, r *http.Request, wac string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeError(w, r, http.StatusMethodNotAllowed, "only POST is allowed here")
		return
	}
	if s.refuseWebApp(w, r) {
		return
	}
	id := strings.TrimSpace(r.Header.Get(SubmitHeader))
	if id == "" {
		s.writeError(w, r, http.StatusBadRequest, "header webappIdentifier is missing")
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxViewBody))

	s.mu.Lock()
	e, ok := s.byID[id]
	ok = ok && !e.Cleared && e.WebApp == wac
	if ok {
		e.Submitted = true
		s.submitted = append(s.submitted, id)
		s.notifyLocked()
	}
	s.mu.Unlock()

	if !ok {
		s.writeError(w, r, http.StatusNotFound, "no open entry with this identifier")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = fmt.Fprintf(w, `<div class="x-webapp-result">submitted %s</div>`,
		html.EscapeString(id))
}

// serveHelp answers a server-side validation call. The entry ID is the
// params query value up to and including ".xml"; the misspelled key
// "¶ms" seen in one documentation page is accepted as well.
func (s *Server) serveHelp(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		s.writeError(w, r, http.StatusMethodNotAllowed, "only GET or POST is allowed here")
		return
	}
	if s.refuseWebApp(w, r) {
		return
	}
	q := r.URL.Query()
	params := q.Get("params")
	if params == "" {
		params = q.Get("¶ms")
	}
	end := strings.Index(params, ".xml")
	if end < 0 {
		s.writeError(w, r, http.StatusBadRequest, "query parameter params names no entry")
		return
	}
	id := params[:end+len(".xml")]

	s.mu.Lock()
	e, known := s.byID[id]
	valid := known && !e.Cleared
	s.validated = append(s.validated, id)
	s.notifyLocked()
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/xml")
	_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+
		`<validationResult><entry>%s</entry><valid>%t</valid></validationResult>`,
		html.EscapeString(id), valid)
}
