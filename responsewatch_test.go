package inubitsessions

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

const testID = "webform@@@OrderWAC/form_orderentry(2)_orderapp@@@10020.xml"

var testNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// testHandler is a handler with default bounds and a bare state that
// only counts refusals.
func testHandler() *Handler {
	h := &Handler{SessionCookie: "JSESSIONID", now: func() time.Time { return testNow }, state: &state{}, logger: zap.NewNop()}
	h.fillLimitDefaults()
	return h
}

// spyWriter records whether its ReadFrom ran.
type spyWriter struct {
	*httptest.ResponseRecorder
	readFrom bool
}

func (s *spyWriter) ReadFrom(r io.Reader) (int64, error) {
	s.readFrom = true
	return io.Copy(s.ResponseRecorder, r)
}

func TestReadFromKeepsFastPathUnlessScanning(t *testing.T) {
	tests := map[string]struct {
		contentType  string
		wantReadFrom bool
		wantIDs      []string
	}{
		"binary body uses inner ReadFrom": {"application/pdf", true, nil},
		"HTML body is scanned":            {"text/html; charset=utf-8", false, []string{testID}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spy := &spyWriter{ResponseRecorder: httptest.NewRecorder()}
			rw := testHandler().watchResponse(spy)
			rw.Header().Set("Content-Type", tc.contentType)
			body := `<input type="hidden" value="` + strings.ReplaceAll(testID, "@", "&#64;") + `">`
			n, err := rw.ReadFrom(strings.NewReader(body))
			require.NoError(t, err)
			assert.Equal(t, int64(len(body)), n)
			assert.Equal(t, tc.wantReadFrom, spy.readFrom)
			assert.Equal(t, body, spy.Body.String(), "the client gets the original bytes")
			assert.Equal(t, tc.wantIDs, rw.finish(nil))
		})
	}
}

func TestUnwrapReturnsInnerWriter(t *testing.T) {
	inner := httptest.NewRecorder()
	rw := testHandler().watchResponse(inner)
	assert.Same(t, inner, rw.Unwrap())
}

func TestInformationalResponsesPassThrough(t *testing.T) {
	inner := httptest.NewRecorder()
	rw := testHandler().watchResponse(inner)
	rw.WriteHeader(http.StatusEarlyHints)
	rw.Header().Add("Set-Cookie", "JSESSIONID=NEWVALUE; Path=/")
	rw.WriteHeader(http.StatusOK)
	assert.True(t, rw.cookie.set, "the final header is the one inspected")
	assert.Equal(t, "NEWVALUE", rw.cookie.value)
}

func TestFlushBeforeHeaderInspectsHeader(t *testing.T) {
	inner := httptest.NewRecorder()
	rw := testHandler().watchResponse(inner)
	rw.Header().Add("Set-Cookie", "JSESSIONID=; Max-Age=0; Path=/")
	require.NoError(t, http.NewResponseController(rw).Flush())
	assert.True(t, rw.cookie.deleted)
	assert.True(t, inner.Flushed)
	assert.Equal(t, http.StatusOK, inner.Code)
}

func TestWriteScansAcrossChunks(t *testing.T) {
	inner := httptest.NewRecorder()
	rw := testHandler().watchResponse(inner)
	rw.Header().Set("Content-Type", "application/javascript")
	page := `var id = "` + strings.ReplaceAll(testID, "/", `\/`) + `";`
	for i := 0; i < len(page); i += 7 {
		_, err := rw.Write([]byte(page[i:min(i+7, len(page))]))
		require.NoError(t, err)
	}
	assert.Equal(t, page, inner.Body.String())
	assert.Equal(t, []string{testID}, rw.finish(nil))
}

func TestHijackThroughResponseController(t *testing.T) {
	h := testHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := h.watchResponse(w)
		conn, brw, err := http.NewResponseController(rw).Hijack()
		if !assert.NoError(t, err) {
			return
		}
		defer conn.Close()
		require.NoError(t, http.NewResponseController(rw).SetWriteDeadline(time.Time{}))
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nhijacked")
		_ = brw.Flush()
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "hijacked", string(body))
}

func TestSessionCookieChange(t *testing.T) {
	tests := map[string]struct {
		lines []string
		want  cookieChange
	}{
		"no cookie":         {nil, cookieChange{}},
		"other cookie":      {[]string{"lang=de; Path=/"}, cookieChange{}},
		"longer name":       {[]string{"JSESSIONIDX=abc; Path=/"}, cookieChange{}},
		"new value":         {[]string{"JSESSIONID=ABC123; Path=/; HttpOnly"}, cookieChange{set: true, value: "ABC123"}},
		"Max-Age=0":         {[]string{"JSESSIONID=; Max-Age=0; Path=/"}, cookieChange{deleted: true}},
		"negative Max-Age":  {[]string{"JSESSIONID=x; Max-Age=-1"}, cookieChange{deleted: true}},
		"Expires in past":   {[]string{"JSESSIONID=x; Expires=Thu, 01 Jan 1970 00:00:10 GMT"}, cookieChange{deleted: true}},
		"Tomcat's layout":   {[]string{"JSESSIONID=x; Expires=Thu, 01-Jan-1970 00:00:10 GMT"}, cookieChange{deleted: true}},
		"Expires in future": {[]string{"JSESSIONID=x; Expires=Fri, 01 Jan 2100 00:00:00 GMT"}, cookieChange{set: true, value: "x"}},
		"Max-Age wins over a past Expires": {
			[]string{"JSESSIONID=x; Path=/; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:00 GMT"},
			cookieChange{set: true, value: "x"},
		},
		"Max-Age=0 wins over a future Expires": {
			[]string{"JSESSIONID=x; Max-Age=0; Expires=Fri, 01 Jan 2100 00:00:00 GMT"}, cookieChange{deleted: true},
		},
		"delete then set": {
			[]string{"JSESSIONID=; Max-Age=0", "JSESSIONID=NEW; Path=/"},
			cookieChange{deleted: true, set: true, value: "NEW"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, sessionCookieChange(tc.lines, "JSESSIONID", testNow))
		})
	}
}

func TestScannable(t *testing.T) {
	tests := map[string]struct {
		contentType, encoding string
		status                int
		want                  scanDecision
		lastModified          bool // a static file
	}{
		"html":                   {"text/html; charset=utf-8", "", 200, scanBody, false},
		"xml":                    {"application/xml", "", 200, scanBody, false},
		"xhtml":                  {"application/xhtml+xml", "", 200, scanBody, false},
		"json":                   {"application/json", "", 200, scanBody, false},
		"problem json":           {"application/problem+json", "", 200, scanBody, false},
		"javascript":             {"application/javascript", "", 200, scanBody, false},
		"text javascript":        {"text/javascript", "", 200, scanBody, false},
		"unknown type":           {"", "", 200, scanBody, false},
		"image":                  {"image/png", "", 200, skipBody, false},
		"octet stream":           {"application/octet-stream", "", 200, skipBody, false},
		"gzip image":             {"image/png", "gzip", 200, skipBody, false},
		"gzip html":              {"text/html", "gzip", 200, skipCompressed, false},
		"identity html":          {"text/html", "identity", 200, scanBody, false},
		"no content":             {"text/html", "", 204, skipBody, false},
		"not modified":           {"text/html", "", 304, skipBody, false},
		"broken parameter":       {"text/html; charset", "", 200, scanBody, false},
		"broken parameters":      {"application/json; charset=utf-8; boundary", "", 200, scanBody, true},
		"empty parameter":        {"text/html; charset=", "", 200, scanBody, false},
		"broken type":            {"/html", "", 200, skipBody, false},
		"static legacy js":       {"text/x-javascript", "", 200, skipBody, true},
		"static jscript":         {"text/jscript; charset=utf-8", "", 200, skipBody, true},
		"static js broken param": {"application/javascript; charset", "", 200, skipBody, true},
		"generated x-ecmascript": {"application/x-ecmascript", "", 200, scanBody, false},
		"style sheet":            {"text/css", "", 200, skipBody, false},
		"static style":           {"text/css; charset=utf-8", "gzip", 200, skipBody, true},
		"static script":          {"application/javascript", "", 200, skipBody, true},
		"static text js":         {"text/javascript;charset=UTF-8", "gzip", 200, skipBody, true},
		"generated js":           {"text/javascript", "", 200, scanBody, false},
		"static html":            {"text/html", "", 200, scanBody, true},
		"static json":            {"application/json", "", 200, scanBody, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			if tc.contentType != "" {
				h.Set("Content-Type", tc.contentType)
			}
			if tc.encoding != "" {
				h.Set("Content-Encoding", tc.encoding)
			}
			if tc.lastModified {
				h.Set("Last-Modified", "Tue, 01 Dec 2026 08:00:00 GMT")
			}
			assert.Equal(t, tc.want, scannable(h, tc.status))
		})
	}
}

func TestBodyPastMaxScanBytesIsPassedOnUnscannedAndCounted(t *testing.T) {
	h := testHandler()
	h.MaxScanBytes = 100
	inner := httptest.NewRecorder()
	rw := h.watchResponse(inner)
	rw.Header().Set("Content-Type", "text/html")
	body := strings.Repeat("x", 120) + `<input value="` + testID + `">`
	_, err := rw.Write([]byte(body))
	require.NoError(t, err, "the client's write never fails because of the scan")
	assert.Empty(t, rw.finish(nil), "IDs past the bound are not collected")
	assert.Equal(t, body, inner.Body.String())
	assert.Equal(t, int64(1), h.state.refused.counts()["scan_limit"])
}

// A static script (served with Last-Modified) passes unscanned and
// untouched; the same script generated per request is scanned.
func TestStaticScriptIsNotScanned(t *testing.T) {
	body := `var form = "` + testID + `";`
	for name, static := range map[string]bool{"static": true, "generated": false} {
		t.Run(name, func(t *testing.T) {
			inner := httptest.NewRecorder()
			rw := testHandler().watchResponse(inner)
			rw.Header().Set("Content-Type", "application/javascript")
			if static {
				rw.Header().Set("Last-Modified", "Tue, 01 Dec 2026 08:00:00 GMT")
			}
			_, err := rw.Write([]byte(body))
			require.NoError(t, err)
			ids := rw.finish(nil)
			if static {
				assert.Empty(t, ids)
			} else {
				assert.Equal(t, []string{testID}, ids)
			}
			assert.Equal(t, body, inner.Body.String())
		})
	}
}
