package integration

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// gzipped answers every request of h gzip-compressed, as an upstream
// with compression switched on does.
func gzipped(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(rec.Code)
		gz := gzip.NewWriter(w)
		_, _ = gz.Write(rec.Body.Bytes())
		_ = gz.Close()
	})
}

// gzipWhenAsked compresses the answers of h for clients that accept gzip,
// as an app server with compression switched on does.
func gzipWhenAsked(h http.Handler) http.Handler {
	zipped := gzipped(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			zipped.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// TestCompressedPageIsScanned: an ID seen only in a gzip-compressed form
// page is cleared at logout.
func TestCompressedPageIsScanned(t *testing.T) {
	s := newStack(t, fakeinubit.Profile9XML)
	zipped := httptest.NewServer(gzipped(s.inubit))
	t.Cleanup(zipped.Close)
	// the clear endpoint stays the plain emulator; the proxied route compresses
	s.start(t, globalConfig+siteAddress+` {
	`+s.handlerBlock(siteOptions{})+`
	reverse_proxy /ibis/* `+zipped.Listener.Addr().String()+`
	reverse_proxy `+s.webappA+`
}
`)
	alice := newBrowser(t)
	alice.login("alice")
	id := alice.openForm(formUUID(0)) // only ever in the compressed page
	alice.get("/logout")
	assert.Equal(t, []string{id}, s.waitCleared(t, "alice", []string{id}))
}

// compressedBody is a page compressed as an upstream sends it.
type compressedBody struct {
	encoding string // Content-Encoding header
	body     []byte
}

// squeeze compresses data in format: gzip, zlib (HTTP's deflate) or raw
// deflate (what some servers send as deflate).
func squeeze(t *testing.T, format string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch format {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "zlib":
		w = zlib.NewWriter(&buf)
	case "raw":
		fw, err := flate.NewWriter(&buf, flate.DefaultCompression)
		require.NoError(t, err)
		w = fw
	}
	_, err := w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// noisyPage is an HTML page with ID first near its start and ID last at
// its end, about 256 KiB of random text between them, so that the
// compressed bytes follow the page evenly.
func noisyPage(first, last string) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	fmt.Fprintf(&b, "<html><body><input type=\"hidden\" value=\"%s\">\n<p>", first)
	for b.Len() < 256<<10 {
		fmt.Fprintf(&b, "%016x ", rng.Uint64())
	}
	fmt.Fprintf(&b, "</p>\n<script>var id = \"%s\";</script></body></html>\n", last)
	return b.Bytes()
}

// TestCompressedBodiesReachClientUnchanged: gzip, zlib-wrapped and raw
// deflate answers pass through the handler and reverse_proxy byte for byte
// while the IDs in them are cleared at logout. A damaged body (cut short,
// overwritten in the middle, not compressed at all) is passed on just as
// unchanged, the site keeps working, and what decompressed before the
// damage is still scanned.
func TestCompressedBodiesReachClientUnchanged(t *testing.T) {
	early, late := kindID(1), kindID(2)
	page := noisyPage(early, late)
	gz, zlibbed, raw := squeeze(t, "gzip", page), squeeze(t, "zlib", page), squeeze(t, "raw", page)
	corrupt := bytes.Clone(gz)
	copy(corrupt[len(corrupt)/2:], bytes.Repeat([]byte{0xff}, 64))

	tests := map[string]struct {
		answer compressedBody
		want   []string
	}{
		"gzip":             {compressedBody{"gzip", gz}, []string{early, late}},
		"deflate zlib":     {compressedBody{"deflate", zlibbed}, []string{early, late}},
		"deflate raw":      {compressedBody{"deflate", raw}, []string{early, late}},
		"gzip cut short":   {compressedBody{"gzip", gz[:len(gz)/2]}, []string{early}},
		"gzip overwritten": {compressedBody{"gzip", corrupt}, []string{early}},
		"gzip that is not": {compressedBody{"gzip", page}, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStack(t, fakeinubit.Profile9XML)
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Header().Set("Content-Encoding", tc.answer.encoding)
				_, _ = w.Write(tc.answer.body)
			}))
			t.Cleanup(up.Close)
			s.start(t, globalConfig+siteAddress+` {
	`+s.handlerBlock(siteOptions{})+`
	reverse_proxy /page `+up.Listener.Addr().String()+`
	reverse_proxy /ibis/* `+s.inubitA+`
	reverse_proxy `+s.webappA+`
}
`)
			alice := newBrowser(t)
			alice.login("alice")
			id := alice.openForm(formUUID(0))

			req, err := http.NewRequest(http.MethodGet, alice.base+"/page", nil)
			require.NoError(t, err)
			req.Header.Set("Accept-Encoding", "gzip, deflate") // no transparent decoding
			resp, err := alice.client.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, tc.answer.encoding, resp.Header.Get("Content-Encoding"))
			assert.True(t, bytes.Equal(tc.answer.body, body),
				"the client gets the upstream's bytes")

			alice.get("/logout")
			want := append([]string{id}, tc.want...)
			assert.ElementsMatch(t, want, s.waitCleared(t, "alice", want))
		})
	}
}
