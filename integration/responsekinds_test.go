package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// kindID returns a distinct entry ID for the pages of these tests.
func kindID(n int) string {
	return fmt.Sprintf("webform@@@KindsWAC/form_kinds(%d)_kindsapp@@@%d.xml", n, 40000+n)
}

// pageWithIDs is an HTML page of about size bytes carrying the IDs
// kindID(first), kindID(first+1), ... one every 32 KiB, each across a
// 32 KiB boundary (io.Copy's buffer), as HTML entities; and those IDs.
func pageWithIDs(size, first int) ([]byte, []string) {
	var b bytes.Buffer
	var ids []string
	b.WriteString("<!DOCTYPE html>\n<html><body>\n")
	const filler, input = "<p>lorem ipsum dolor sit amet</p>\n", `<input type="hidden" value="`
	for n := 1; b.Len() < size; n++ {
		id := kindID(first + n - 1)
		entity := strings.ReplaceAll(id, "@", "&#64;")
		start := n*32<<10 - len(entity)/2 - len(input) // the ID's middle on the boundary
		for b.Len()+len(filler) <= start {
			b.WriteString(filler)
		}
		b.WriteString(strings.Repeat(" ", start-b.Len()))
		fmt.Fprintf(&b, "%s%s\">\n", input, entity)
		ids = append(ids, id)
	}
	b.WriteString("</body></html>\n")
	return b.Bytes(), ids
}

const deleteSession = "JSESSIONID=; Path=/; Max-Age=0"

// kindsUpstream answers /kinds/... with the response kinds under test.
// Each answer deletes the session cookie, so the session ends only if the
// handler saw the final header.
func kindsUpstream(page []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/kinds/bodiless":
			// HEAD, 204 or 304 of an HTML page: headers only
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Length", strconv.Itoa(len(page)))
			w.Header().Set("ETag", `"v1"`)
			if enc := r.URL.Query().Get("encoding"); enc != "" {
				w.Header().Set("Content-Encoding", enc)
			}
			w.Header().Add("Set-Cookie", deleteSession)
			status, _ := strconv.Atoi(r.URL.Query().Get("status"))
			if status == http.StatusNoContent || status == http.StatusNotModified {
				w.Header().Del("Content-Length")
			}
			w.WriteHeader(status)
			if status == http.StatusOK {
				_, _ = w.Write(page) // net/http drops it for HEAD
			}
		case "/kinds/early-hints":
			w.Header().Set("Link", "</app.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Add("Set-Cookie", deleteSession)
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(page)
		default:
			http.NotFound(w, r)
		}
	})
}

// startKindsSite runs the site with /kinds/* going to
// kindsUpstream.
func startKindsSite(t *testing.T, page []byte) *stack {
	s := newStack(t, fakeinubit.Profile9XML)
	up := httptest.NewServer(kindsUpstream(page))
	t.Cleanup(up.Close)
	s.start(t, globalConfig+siteAddress+` {
	`+s.handlerBlock(siteOptions{})+`
	reverse_proxy /kinds/* `+up.Listener.Addr().String()+`
	reverse_proxy /ibis/* `+s.inubitA+`
	reverse_proxy `+s.webappA+`
}
`)
	return s
}

// TestBodilessResponsesStillEndSessions: a HEAD, a 204 and a 304 reach
// the client without a body and with their headers; the handler scans
// nothing, fails nothing and still sees their Set-Cookie, so the session
// it deletes ends and INUBIT clears the form the session opened.
func TestBodilessResponsesStillEndSessions(t *testing.T) {
	page, _ := pageWithIDs(4<<10, 1)
	gzipOK := http.Header{"Accept-Encoding": {"gzip"}}
	tests := map[string]struct {
		method, query string
		header        http.Header
		status        int
		contentLength string
	}{
		"HEAD": {
			method: http.MethodHead, query: "status=200",
			status: 200, contentLength: strconv.Itoa(len(page)),
		},
		"HEAD gzip": {
			method: http.MethodHead, query: "status=200&encoding=gzip", header: gzipOK,
			status: 200, contentLength: strconv.Itoa(len(page)),
		},
		"204": {method: http.MethodGet, query: "status=204", status: 204},
		"304": {
			method: http.MethodGet, query: "status=304",
			header: http.Header{"If-None-Match": {`"v1"`}}, status: 304,
		},
		"304 gzip": {
			method: http.MethodGet, query: "status=304&encoding=gzip", header: gzipOK, status: 304,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := startKindsSite(t, page)
			alice := newBrowser(t)
			alice.login("alice")
			id := alice.openForm(formUUID(0))

			req, err := http.NewRequest(tc.method, alice.base+"/kinds/bodiless?"+tc.query, nil)
			require.NoError(t, err)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := alice.client.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Empty(t, body)
			assert.Equal(t, tc.contentLength, resp.Header.Get("Content-Length"))
			assert.Equal(t, `"v1"`, resp.Header.Get("ETag"))
			assert.Contains(t, resp.Header.Values("Set-Cookie"), deleteSession)

			assert.Equal(t, []string{id}, s.waitCleared(t, "alice", []string{id}))
		})
	}
}

// TestEarlyHintsPassThrough: a 103 from the upstream reaches the client
// with its Link header, and is not taken for the final header: the
// handler reads the Set-Cookie of the 200 after it (which deletes the
// session) and scans that 200's body, so INUBIT clears both the form the
// session opened and the ID of the page.
func TestEarlyHintsPassThrough(t *testing.T) {
	page, pageIDs := pageWithIDs(4<<10, 1)
	s := startKindsSite(t, page)
	alice := newBrowser(t)
	alice.login("alice")
	id := alice.openForm(formUUID(0))

	var mu sync.Mutex
	var hints []int
	var link string
	got1xx := func(code int, header textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		hints = append(hints, code)
		link = header.Get("Link")
		return nil
	}
	trace := &httptrace.ClientTrace{Got1xxResponse: got1xx}
	req, err := http.NewRequest(http.MethodGet, alice.base+"/kinds/early-hints", nil)
	require.NoError(t, err)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := alice.client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)

	mu.Lock()
	assert.Equal(t, []int{http.StatusEarlyHints}, hints)
	assert.Equal(t, "</app.css>; rel=preload; as=style", link)
	mu.Unlock()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, page, body)
	assert.Contains(t, resp.Header.Values("Set-Cookie"), deleteSession)

	want := append([]string{id}, pageIDs...)
	assert.ElementsMatch(t, want, s.waitCleared(t, "alice", want))
}
