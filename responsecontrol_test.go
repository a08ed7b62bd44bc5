package inubitsessions

// The watcher on a real HTTP/1.1 server on 127.0.0.1: what a handler
// behind it does through http.ResponseController.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// watched is what the watcher reported once the handler behind it returned.
type watched struct {
	ids    []string
	cookie cookieChange
}

// serveWatched starts a server that runs next behind a responseWatcher, as
// ServeHTTP does, and reports each request's findings on the channel.
func serveWatched(t *testing.T, next http.HandlerFunc) (*httptest.Server, <-chan watched) {
	t.Helper()
	found := make(chan watched, 4)
	h := testHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := h.watchResponse(w)
		defer rw.stopInflating()
		next(rw, r)
		ids := rw.finish(nil)
		found <- watched{ids: ids, cookie: rw.cookie}
	}))
	t.Cleanup(srv.Close)
	srv.Client().Timeout = 10 * time.Second
	return srv, found
}

// waitWatched returns the findings of the next request that finished.
func waitWatched(t *testing.T, found <-chan watched) watched {
	t.Helper()
	select {
	case w := <-found:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("the handler behind the watcher did not return")
		return watched{}
	}
}

// numberedID returns a distinct valid entry ID.
func numberedID(n int) string {
	return fmt.Sprintf("webform@@@OrderWAC/form_orderentry(%d)_orderapp@@@%d.xml", n, 20000+n)
}

// TestResponseControllerThroughWatcher: a handler behind the watcher
// flushes, reads in full duplex, sets deadlines and hijacks through
// http.ResponseController on a real HTTP/1.1 connection. Every call
// reaches net/http (none answers ErrNotSupported) and takes effect, and the
// watcher still reports the IDs and the cookie of what went out.
func TestResponseControllerThroughWatcher(t *testing.T) {
	// Each chunk reaches the client before the handler writes the next.
	t.Run("flush", func(t *testing.T) {
		acked := make(chan struct{}, 3)
		srv, found := serveWatched(t, func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			w.Header().Set("Content-Type", "text/html")
			w.Header().Add("Set-Cookie", "JSESSIONID=FLUSHED; Path=/")
			for i := range 3 {
				fmt.Fprintf(w, "<p>%s</p>\n", numberedID(i))
				if !assert.NoError(t, rc.Flush()) {
					return
				}
				select {
				case <-acked:
				case <-time.After(5 * time.Second):
					t.Errorf("chunk %d did not reach the client after Flush", i)
					return
				}
			}
		})
		resp, err := srv.Client().Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		lines := bufio.NewReader(resp.Body)
		for i := range 3 {
			line, err := lines.ReadString('\n')
			require.NoError(t, err)
			assert.Equal(t, "<p>"+numberedID(i)+"</p>\n", line)
			acked <- struct{}{}
		}
		got := waitWatched(t, found)
		assert.Equal(t, []string{numberedID(0), numberedID(1), numberedID(2)}, got.ids)
		assert.Equal(t, cookieChange{set: true, value: "FLUSHED"}, got.cookie)
	})

	// With full duplex on, the handler reads the request body after it
	// began the response: each line comes back while the upload goes on.
	t.Run("full duplex", func(t *testing.T) {
		srv, found := serveWatched(t, func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if !assert.NoError(t, rc.EnableFullDuplex()) {
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			assert.NoError(t, rc.Flush())
			in := bufio.NewReader(r.Body)
			for {
				line, err := in.ReadString('\n')
				if err != nil {
					assert.ErrorIs(t, err, io.EOF)
					return
				}
				_, _ = io.WriteString(w, line)
				assert.NoError(t, rc.Flush())
			}
		})
		pr, pw := io.Pipe()
		defer pw.Close()
		// a write the transport no longer reads must not hang the test
		stalled := func() { pw.CloseWithError(errors.New("upload stalled")) }
		stop := time.AfterFunc(10*time.Second, stalled)
		defer stop.Stop()
		req, err := http.NewRequest(http.MethodPost, srv.URL, pr)
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		echo := bufio.NewReader(resp.Body)
		for _, msg := range []string{"hello", numberedID(7)} {
			_, err := io.WriteString(pw, msg+"\n")
			require.NoError(t, err)
			line, err := echo.ReadString('\n')
			require.NoError(t, err)
			assert.Equal(t, msg+"\n", line)
		}
		require.NoError(t, pw.Close())
		_, err = io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, []string{numberedID(7)}, waitWatched(t, found).ids)
	})

	// Deadlines set through the watcher bind the connection: a read and a
	// write past them fail at once instead of waiting for the client.
	t.Run("deadlines", func(t *testing.T) {
		type outcome struct{ setRead, read, setWrite, write error }
		result := make(chan outcome, 1)
		srv, found := serveWatched(t, func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			var o outcome
			o.setRead = rc.SetReadDeadline(time.Now().Add(-time.Second))
			_, o.read = r.Body.Read(make([]byte, 1))
			o.setWrite = rc.SetWriteDeadline(time.Now().Add(-time.Second))
			w.Header().Set("Content-Type", "text/html")
			_, o.write = w.Write(bytes.Repeat([]byte("x"), 64<<10))
			if o.write == nil {
				o.write = rc.Flush()
			}
			result <- o
		})
		pr, pw := io.Pipe() // the client sends its body only at the end
		req, err := http.NewRequest(http.MethodPost, srv.URL, pr)
		require.NoError(t, err)
		clientDone := make(chan struct{})
		go func() {
			defer close(clientDone)
			if resp, err := srv.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		var o outcome
		select {
		case o = <-result:
		case <-time.After(10 * time.Second):
			t.Fatal("the handler did not return: a deadline did not reach the connection")
		}
		pw.Close()
		<-clientDone
		assert.NoError(t, o.setRead)
		assert.ErrorIs(t, o.read, os.ErrDeadlineExceeded)
		assert.NoError(t, o.setWrite)
		assert.ErrorIs(t, o.write, os.ErrDeadlineExceeded)
		waitWatched(t, found)
	})

	// As reverse_proxy switches protocols: the 101 goes out as the final
	// header (its Set-Cookie is seen), then the connection is hijacked and
	// carries bytes both ways, unscanned.
	t.Run("hijack after 101", func(t *testing.T) {
		srv, found := serveWatched(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "echo")
			w.Header().Add("Set-Cookie", "JSESSIONID=UPGRADED; Path=/")
			w.WriteHeader(http.StatusSwitchingProtocols)
			conn, brw, err := http.NewResponseController(w).Hijack()
			if !assert.NoError(t, err) {
				return
			}
			defer conn.Close()
			assert.NoError(t, brw.Flush())
			line, _ := brw.ReadString('\n')
			_, _ = brw.WriteString(line)
			assert.NoError(t, brw.Flush())
		})
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		require.NoError(t, err)
		defer conn.Close()
		require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n"+
			"Connection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		require.NoError(t, err)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		assert.Contains(t, resp.Header.Values("Set-Cookie"), "JSESSIONID=UPGRADED; Path=/")
		_, err = io.WriteString(conn, numberedID(9)+"\n")
		require.NoError(t, err)
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, numberedID(9)+"\n", line)

		got := waitWatched(t, found)
		assert.Equal(t, cookieChange{set: true, value: "UPGRADED"}, got.cookie)
		assert.Empty(t, got.ids, "bytes after a hijack are not the response body")
	})
}
