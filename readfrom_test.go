package inubitsessions

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bodyWithIDs is an HTML page of about size bytes whose IDs sit across
// io.Copy's 32 KiB buffer boundaries, and those IDs.
func bodyWithIDs(size int) ([]byte, []string) {
	var b bytes.Buffer
	var ids []string
	const filler = "<p>lorem ipsum dolor sit amet</p>\n"
	for n := 1; b.Len() < size; n++ {
		id := numberedID(n)
		entity := strings.ReplaceAll(id, "@", "&#64;")
		start := n*32<<10 - len(entity)/2 // the ID's middle on the boundary
		for b.Len()+len(filler) <= start {
			b.WriteString(filler)
		}
		b.WriteString(strings.Repeat(" ", start-b.Len()))
		b.WriteString(entity)
		ids = append(ids, id)
	}
	return b.Bytes(), ids
}

// TestReadFromRealReaders: io.Copy into the watcher from a file (as
// file_server does) and from a TCP connection delivers the bytes unchanged
// to a real client. A text body is scanned, IDs across io.Copy's buffer
// boundaries included; a binary one goes to net/http's own ReadFrom
// (sendfile, splice) unscanned.
func TestReadFromRealReaders(t *testing.T) {
	body, ids := bodyWithIDs(200 << 10)
	path := filepath.Join(t.TempDir(), "page")
	require.NoError(t, os.WriteFile(path, body, 0o600))

	sources := map[string]func(t *testing.T) io.Reader{
		"file": func(t *testing.T) io.Reader {
			f, err := os.Open(path)
			require.NoError(t, err)
			t.Cleanup(func() { f.Close() })
			return f
		},
		"tcp conn": func(t *testing.T) io.Reader {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { l.Close() })
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				_, _ = c.Write(body)
			}()
			c, err := net.Dial("tcp", l.Addr().String())
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			return c
		},
	}
	types := map[string]struct {
		contentType string
		wantIDs     []string
	}{
		"html": {"text/html; charset=utf-8", ids},
		"pdf":  {"application/pdf", nil},
	}
	for sourceName, source := range sources {
		for typeName, tc := range types {
			t.Run(sourceName+" "+typeName, func(t *testing.T) {
				src := source(t)
				srv, found := serveWatched(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", tc.contentType)
					n, err := io.Copy(w, src)
					assert.NoError(t, err)
					assert.Equal(t, int64(len(body)), n)
				})
				resp, err := srv.Client().Get(srv.URL)
				require.NoError(t, err)
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.NoError(t, err)
				assert.True(t, bytes.Equal(body, got), "the client gets the bytes unchanged")
				assert.Equal(t, tc.wantIDs, waitWatched(t, found).ids)
			})
		}
	}
}
