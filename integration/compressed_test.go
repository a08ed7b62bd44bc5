package integration

import (
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

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
