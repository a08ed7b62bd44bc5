package integration

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// TestFileServerBehindHandler: file_server copies files into the handler's
// writer with io.Copy (its ReadFrom). The client gets every byte of the
// file as on disk, a precompressed .gz sidecar byte for byte, a 304 and a
// HEAD without body; the IDs in both files are cleared at logout.
func TestFileServerBehindHandler(t *testing.T) {
	dir := t.TempDir()
	plain, plainIDs := pageWithIDs(200<<10, 1)
	zippedPage, zippedIDs := pageWithIDs(40<<10, 100)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(zippedPage)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "form.html"), plain, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "zipped.html"), zippedPage, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "zipped.html.gz"), gz.Bytes(), 0o600))

	s := newStack(t, fakeinubit.Profile9XML)
	s.start(t, globalConfig+siteAddress+` {
	`+s.handlerBlock(siteOptions{})+`
	handle_path /files/* {
		root * `+dir+`
		file_server {
			precompressed gzip
		}
	}
	reverse_proxy `+s.webappA+`
}
`)
	alice := newBrowser(t)
	alice.login("alice")

	fetch := func(method, path string, header http.Header) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, alice.base+path, nil)
		require.NoError(t, err)
		req.Header.Set("Accept-Encoding", "identity")
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := alice.client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body
	}

	resp, body := fetch(http.MethodGet, "/files/form.html", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, bytes.Equal(plain, body), "the file arrives as on disk")
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)

	resp, body = fetch(http.MethodGet, "/files/form.html", http.Header{"If-None-Match": {etag}})
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	assert.Empty(t, body)

	resp, body = fetch(http.MethodHead, "/files/form.html", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, strconv.Itoa(len(plain)), resp.Header.Get("Content-Length"))
	assert.Empty(t, body)

	gzipOK := http.Header{"Accept-Encoding": {"gzip"}}
	resp, body = fetch(http.MethodGet, "/files/zipped.html", gzipOK)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	assert.True(t, bytes.Equal(gz.Bytes(), body), "the .gz sidecar arrives byte for byte")

	alice.get("/logout")
	want := append(plainIDs, zippedIDs...)
	assert.ElementsMatch(t, want, s.waitCleared(t, "alice", want))
}
