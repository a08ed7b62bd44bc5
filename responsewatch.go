package inubitsessions

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// responseWatcher passes a response through untouched while it notes
// what the response does to the session cookie and scans text bodies
// for entry IDs. It decides what to watch once, when the header goes
// out, and routes Write, ReadFrom and an early flush through that
// decision. Hijacking, deadlines and pushes reach the inner writer
// through Unwrap.
type responseWatcher struct {
	*caddyhttp.ResponseWriterWrapper
	wrapper     caddyhttp.ResponseWriterWrapper // what the embedded pointer points at: one allocation, not two
	h           *Handler
	wroteHeader bool
	status      int                     // the final status, once the header went out
	scanner     *sessiontracker.Scanner // nil unless the body is scanned
	inflate     *inflater               // set when the body is scanned decompressed
	cookie      cookieChange
	// noSession is set when the request carried no session cookie: its
	// body is then scanned only if the response starts a session, as
	// IDs found outside any session could not be kept.
	noSession bool
	// ids backs the request's first entry IDs: the watcher is allocated
	// anyway, so a request showing one ID allocates no slice.
	// The tracker copies the IDs it keeps, never the slice.
	ids [1]string
}

// cookieChange is what a response did to the session cookie.
type cookieChange struct {
	set     bool   // the response gave the session cookie a value
	value   string // that value; dropped once hashed
	deleted bool   // the response expired the session cookie
}

var scannerPool = sync.Pool{New: func() any { return new(sessiontracker.Scanner) }}

// newScanner takes a scanner from the pool, set to the handler's bounds.
func (h *Handler) newScanner() *sessiontracker.Scanner {
	s := scannerPool.Get().(*sessiontracker.Scanner)
	s.MaxBytes = h.MaxScanBytes
	s.MaxIDs = h.MaxIDsPerSession
	return s
}

func (h *Handler) watchResponse(w http.ResponseWriter) *responseWatcher {
	rw := &responseWatcher{h: h}
	rw.wrapper.ResponseWriter = w
	rw.ResponseWriterWrapper = &rw.wrapper
	return rw
}

// WriteHeader inspects the final header once, then sends it on.
// Informational responses pass through without counting as the header.
func (rw *responseWatcher) WriteHeader(status int) {
	if rw.wroteHeader {
		rw.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		rw.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	rw.wroteHeader = true
	rw.status = status
	header := rw.Header()
	rw.cookie = rw.h.responseCookieChange(header["Set-Cookie"])
	if rw.noSession && !rw.cookie.set {
		rw.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	switch scannable(header, status) {
	case scanBody:
		rw.scanner = rw.h.newScanner()
	case skipCompressed:
		if !inflatable(firstValue(header, "Content-Encoding")) {
			rw.h.state.noteCompressed(rw.h.logger)
			break
		}
		rw.scanner = rw.h.newScanner()
		rw.inflate = newInflater(firstValue(header, "Content-Encoding"), rw.scanner)
	}
	rw.ResponseWriterWrapper.WriteHeader(status)
}

// Write sends p on and scans what was sent.
func (rw *responseWatcher) Write(p []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	n, err := rw.ResponseWriterWrapper.Write(p)
	switch {
	case rw.inflate != nil:
		_, _ = rw.inflate.Write(p[:n])
	case rw.scanner != nil:
		_, _ = rw.scanner.Write(p[:n])
	}
	return n, err
}

// ReadFrom keeps the inner writer's fast path (sendfile) when the body
// is not scanned, and copies through Write when it is.
func (rw *responseWatcher) ReadFrom(r io.Reader) (int64, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.scanner == nil {
		return rw.ResponseWriterWrapper.ReadFrom(r)
	}
	return io.Copy(writerOnly{rw}, r)
}

// FlushError makes a flush before any header go through WriteHeader,
// then flushes the inner writer.
func (rw *responseWatcher) FlushError() error {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(rw.ResponseWriterWrapper.ResponseWriter).Flush()
}

// finish appends the IDs found in the body and releases the scanner.
// The watcher must not be used afterwards.
func (rw *responseWatcher) finish(ids []string) []string {
	if !rw.wroteHeader {
		// Nothing was written: net/http sends the header as it is now.
		rw.cookie = rw.h.responseCookieChange(rw.Header()["Set-Cookie"])
	}
	unreadable := rw.inflate != nil && rw.inflate.Close() != nil
	rw.inflate = nil
	if rw.scanner == nil {
		return ids
	}
	if unreadable {
		rw.h.state.refused.add(refusedBodyUnreadable, 1)
	}
	if rw.scanner.Truncated() {
		rw.h.state.noteScanLimit(rw.h.logger, rw.h.MaxScanBytes)
	}
	n := len(ids)
	ids = append(ids, rw.scanner.IDs()...)
	rw.h.state.found(sourceResponseBody, len(ids)-n)
	rw.scanner.Reset()
	scannerPool.Put(rw.scanner)
	rw.scanner = nil
	return ids
}

// stopInflating ends a decompressing scan, if one runs, and waits for it.
func (rw *responseWatcher) stopInflating() {
	if rw.inflate != nil {
		_ = rw.inflate.Close()
		rw.inflate = nil
	}
}

// firstValue is header.Get for a canonical name, without canonicalizing
// it again on every response.
func firstValue(header http.Header, canonicalName string) string {
	if v := header[canonicalName]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// writerOnly hides ReadFrom so io.Copy uses Write.
type writerOnly struct{ io.Writer }

// scanDecision says what to do with a response body.
type scanDecision int

const (
	skipBody       scanDecision = iota // no entry IDs expected
	scanBody                           // a text type INUBIT renders IDs into
	skipCompressed                     // a text type, but compressed (scan decompressed if possible)
)

// scannable decides whether a response body may carry entry IDs worth
// scanning: a text type INUBIT renders IDs into, not encoded. Style
// sheets and static scripts are passed on unscanned: entry IDs are made
// per session, and a file served with a Last-Modified date (a web app's
// libraries, Ext JS among them: megabytes that would cost more to scan
// than to proxy) holds none. A script generated per request is scanned.
func scannable(header http.Header, status int) scanDecision {
	if status == http.StatusNoContent || status == http.StatusNotModified ||
		status == http.StatusSwitchingProtocols {
		return skipBody
	}
	switch contentKind(firstValue(header, "Content-Type")) {
	case kindOther, kindStyle:
		return skipBody
	case kindScript:
		if len(header["Last-Modified"]) > 0 {
			return skipBody
		}
	}
	// Compressed: scanned through a decompressing copy where the
	// encoding allows (gzip, deflate), else counted and passed on.
	if ce := firstValue(header, "Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return skipCompressed
	}
	return scanBody
}

// javaScriptTypes are the JavaScript MIME types of the WHATWG MIME
// Sniffing standard, legacy names included.
var javaScriptTypes = map[string]bool{
	"application/ecmascript": true, "application/javascript": true, "application/x-ecmascript": true,
	"application/x-javascript": true, "text/ecmascript": true, "text/javascript": true,
	"text/javascript1.0": true, "text/javascript1.1": true, "text/javascript1.2": true,
	"text/javascript1.3": true, "text/javascript1.4": true, "text/javascript1.5": true,
	"text/jscript": true, "text/livescript": true, "text/x-ecmascript": true, "text/x-javascript": true,
}

// bodyKind sorts response bodies by what their Content-Type says.
type bodyKind uint8

const (
	kindOther  bodyKind = iota // not text: images, fonts, binaries
	kindText                   // HTML, XML, JSON, plain text: may carry entry IDs
	kindScript                 // JavaScript
	kindStyle                  // CSS
)

// contentKinds remembers contentKind's answer for the few Content-Type
// values an upstream sends, sparing a parse (and its allocations) per
// response. It stops growing at maxContentKinds values, so odd values
// cannot fill it.
var (
	contentKinds      sync.Map // string -> bodyKind
	contentKindsCount atomic.Int32
)

const maxContentKinds = 256

// contentKind sorts a Content-Type. An absent type counts as text: the
// server will sniff it, and it may well be HTML.
func contentKind(ct string) bodyKind {
	if ct == "" {
		return kindText
	}
	if known, ok := contentKinds.Load(ct); ok {
		return known.(bodyKind)
	}
	kind := parseContentKind(ct)
	if contentKindsCount.Load() < maxContentKinds {
		if _, loaded := contentKinds.LoadOrStore(ct, kind); !loaded {
			contentKindsCount.Add(1)
		}
	}
	return kind
}

// parseContentKind is contentKind without the memory. A type whose
// parameters do not parse ("text/html; charset") still names its media
// type, as browsers read it.
func parseContentKind(ct string) bodyKind {
	mediaType, _, err := mime.ParseMediaType(ct)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return kindOther
	}
	switch mediaType {
	case "text/css":
		return kindStyle
	case "application/json", "application/xml":
		return kindText
	}
	if javaScriptTypes[mediaType] {
		return kindScript
	}
	switch {
	case strings.HasPrefix(mediaType, "text/"),
		strings.HasSuffix(mediaType, "+xml"),
		strings.HasSuffix(mediaType, "+json"):
		return kindText
	}
	return kindOther
}

// sessionCookieChange reads the Set-Cookie lines of a response for the
// session cookie: a deletion (Max-Age zero or negative, or, without
// Max-Age, Expires in the past) or a new value.
func sessionCookieChange(lines []string, name string, now time.Time) cookieChange {
	var change cookieChange
	for _, line := range lines {
		if !strings.HasPrefix(strings.TrimLeft(line, " \t"), name) {
			continue
		}
		c, err := http.ParseSetCookie(line)
		if err != nil || c.Name != name {
			continue
		}
		expires := c.Expires
		if expires.IsZero() && c.RawExpires != "" {
			expires = parseLegacyExpires(c.RawExpires)
		}
		// Max-Age, when present, wins over Expires (RFC 6265 5.3): a cookie
		// with Max-Age=3600 and a past Expires (an app writing local time as
		// GMT, a skewed clock) lives on in the browser. net/http reads
		// Max-Age=0 as MaxAge -1 and an absent one as 0.
		expired := c.MaxAge < 0 || (c.MaxAge == 0 && !expires.IsZero() && !expires.After(now))
		if expired || c.Value == "" {
			change.deleted = true
			continue
		}
		change.set, change.value = true, c.Value
	}
	return change
}

// legacyExpiresLayouts are date layouts browsers accept in Expires that
// net/http does not parse: RFC 850, two-digit years, and asctime.
var legacyExpiresLayouts = []string{
	"Monday, 02-Jan-06 15:04:05 MST",
	"Mon, 02-Jan-06 15:04:05 MST",
	"Mon, 02 Jan 06 15:04:05 MST",
	time.ANSIC,
}

// parseLegacyExpires parses an Expires value in an older layout, or
// returns the zero time.
func parseLegacyExpires(raw string) time.Time {
	for _, layout := range legacyExpiresLayouts {
		if t, err := time.Parse(layout, raw); err == nil {
			return t
		}
	}
	return time.Time{}
}

// Interface guards
var (
	_ http.ResponseWriter = (*responseWatcher)(nil)
	_ io.ReaderFrom       = (*responseWatcher)(nil)
)
