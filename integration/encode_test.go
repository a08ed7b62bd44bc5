package integration

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// TestEncodeInFront: Caddy's encode, which the Caddyfile orders before the
// handler, compresses what the handler has already seen. With the
// README's advice (encode zstd gzip, no Accept-Encoding towards the
// upstream), IDs in a page the client gets as zstd, an encoding the
// handler cannot read, are still cleared: the handler saw the plain page.
func TestEncodeInFront(t *testing.T) {
	page, pageIDs := pageWithIDs(100<<10, 1)
	decoders := map[string]func(io.Reader) ([]byte, error){
		"zstd": func(r io.Reader) ([]byte, error) {
			d, err := zstd.NewReader(r)
			if err != nil {
				return nil, err
			}
			defer d.Close()
			return io.ReadAll(d)
		},
		"gzip": func(r io.Reader) ([]byte, error) {
			d, err := gzip.NewReader(r)
			if err != nil {
				return nil, err
			}
			return io.ReadAll(d)
		},
	}
	for encoding, decode := range decoders {
		t.Run(encoding, func(t *testing.T) {
			s := newStack(t, fakeinubit.Profile9XML)
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = w.Write(page)
			})
			up := httptest.NewServer(gzipWhenAsked(app))
			t.Cleanup(up.Close)
			s.start(t, globalConfig+siteAddress+` {
	`+s.handlerBlock(siteOptions{})+`
	encode zstd gzip
	reverse_proxy /page `+up.Listener.Addr().String()+` {
		header_up -Accept-Encoding
	}
	reverse_proxy `+s.webappA+`
}
`)
			alice := newBrowser(t)
			alice.login("alice")
			req, err := http.NewRequest(http.MethodGet, alice.base+"/page", nil)
			require.NoError(t, err)
			req.Header.Set("Accept-Encoding", encoding)
			resp, err := alice.client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, encoding, resp.Header.Get("Content-Encoding"),
				"encode compressed the answer")
			body, err := decode(resp.Body)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(page, body), "the client decodes the page unchanged")

			alice.get("/logout")
			assert.ElementsMatch(t, pageIDs, s.waitCleared(t, "alice", pageIDs))
		})
	}
}
