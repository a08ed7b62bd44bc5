package inubitsessions

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func compress(t *testing.T, encoding string, data []byte) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch encoding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "raw deflate":
		fw, err := flate.NewWriter(&buf, flate.DefaultCompression)
		require.NoError(t, err)
		w = fw
	}
	_, err := w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// A compressed page is scanned through a decompressing copy, written in
// small pieces; the client gets the original compressed bytes.
func TestCompressedBodiesAreScanned(t *testing.T) {
	page := []byte(strings.Repeat("<p>padding</p>", 500) +
		`<input type="hidden" value="` + strings.ReplaceAll(testID, "@", "&#64;") + `">` +
		strings.Repeat("<p>more</p>", 500))
	for _, tc := range []struct{ name, header string }{
		{"gzip", "gzip"}, {"deflate", "deflate"}, {"raw deflate", "deflate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := compress(t, tc.name, page)
			inner := httptest.NewRecorder()
			rw := testHandler().watchResponse(inner)
			rw.Header().Set("Content-Type", "text/html")
			rw.Header().Set("Content-Encoding", tc.header)
			for i := 0; i < len(body); i += 100 {
				_, err := rw.Write(body[i:min(i+100, len(body))])
				require.NoError(t, err)
			}
			assert.Equal(t, []string{testID}, rw.finish(nil))
			assert.Equal(t, body, inner.Body.Bytes(), "the client gets the compressed bytes unchanged")
		})
	}
}

// A body that claims gzip but is not is passed on whole; the scan stops.
func TestCorruptCompressedBodyPassesThrough(t *testing.T) {
	inner := httptest.NewRecorder()
	h := testHandler()
	rw := h.watchResponse(inner)
	rw.Header().Set("Content-Type", "text/html")
	rw.Header().Set("Content-Encoding", "gzip")
	junk := bytes.Repeat([]byte("not gzip at all "), 10000)
	_, err := rw.Write(junk)
	require.NoError(t, err)
	assert.Empty(t, rw.finish(nil))
	assert.Equal(t, junk, inner.Body.Bytes())
	assert.Equal(t, int64(1), h.state.refused.counts()["body_unreadable"], "the unreadable body is counted")
}

// Regression (miscounted): a HEAD answer or a 304 that names gzip has no
// body, which was counted as a body that did not decompress.
func TestEmptyCompressedBodyIsNotUnreadable(t *testing.T) {
	h := testHandler()
	rw := h.watchResponse(httptest.NewRecorder())
	rw.Header().Set("Content-Type", "text/html")
	rw.Header().Set("Content-Encoding", "gzip")
	rw.WriteHeader(http.StatusOK)
	assert.Empty(t, rw.finish(nil))
	assert.Zero(t, h.state.refused.counts()["body_unreadable"])
}
