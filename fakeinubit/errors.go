package fakeinubit

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"net/http"
	"time"
)

// APIError is the error document of INUBIT 9.x, written as XML by
// Profile9XML and as JSON by Profile9JSON. Tests may decode error bodies
// into it.
type APIError struct {
	// XMLName fixes the XML root element to ApiError.
	XMLName xml.Name `xml:"ApiError" json:"-"`
	// StatusCode repeats the HTTP status.
	StatusCode int `xml:"statusCode" json:"statusCode"`
	// Message says briefly what went wrong.
	Message string `xml:"message" json:"message"`
	// Path is the request path that failed.
	Path string `xml:"path" json:"path"`
	// Timestamp is when the error happened, RFC 3339 with milliseconds.
	Timestamp string `xml:"timestamp" json:"timestamp"`
}

// apiTimeLayout formats ApiError timestamps.
const apiTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// writeError answers status with the error body of the server's profile.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="inubit"`)
	}
	doc := APIError{
		StatusCode: status,
		Message:    msg,
		Path:       r.URL.Path,
		Timestamp:  s.now().Format(apiTimeLayout),
	}
	var body []byte
	switch s.profile {
	case Profile9XML:
		w.Header().Set("Content-Type", "application/xml")
		out, err := xml.Marshal(doc)
		if err != nil {
			panic(fmt.Sprintf("encoding ApiError: %v", err))
		}
		body = append([]byte(xml.Header), out...)
	case Profile9JSON:
		w.Header().Set("Content-Type", "application/json")
		out, err := json.Marshal(doc)
		if err != nil {
			panic(fmt.Sprintf("encoding ApiError: %v", err))
		}
		body = out
	default:
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		body = tomcatPage(status, msg)
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// tomcatPage renders an HTML status page in the manner of the servlet
// container under INUBIT 8.x.
func tomcatPage(status int, msg string) []byte {
	head := fmt.Sprintf("HTTP Status %d – %s", status, http.StatusText(status))
	page := `<!doctype html><html lang="en"><head><title>` + html.EscapeString(head) +
		`</title><style>body{font-family:Tahoma,Arial,sans-serif}h1{font-size:22px}` +
		`</style></head><body><h1>` + html.EscapeString(head) + `</h1><hr>` +
		`<p><b>Type</b> Status Report</p>` +
		`<p><b>Message</b> ` + html.EscapeString(msg) + `</p>` +
		`<p><b>Description</b> The server did not complete the request.</p>` +
		`<hr><h3>Apache Tomcat</h3></body></html>`
	return []byte(page)
}

// javaDate formats t the way Java's Date.toString does, for example
// "Fri Dec 04 15:35:53 UTC 2026".
func javaDate(t time.Time) string {
	return t.Format("Mon Jan 02 15:04:05 MST 2006")
}
