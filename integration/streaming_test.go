package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// streamingUpstream serves /events as server-sent events, one event per
// value sent on next, and /ws as an upgraded connection that echoes.
type streamingUpstream struct {
	next chan string
}

func (u *streamingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/events":
		w.Header().Set("Content-Type", "text/event-stream")
		http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "STREAMSESSION", Path: "/"})
		rc := http.NewResponseController(w)
		w.WriteHeader(http.StatusOK)
		if err := rc.Flush(); err != nil {
			return
		}
		for data := range u.next {
			fmt.Fprintf(w, "data: %s\n\n", data)
			if err := rc.Flush(); err != nil {
				return
			}
		}
	case "/ws":
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		_, _ = io.Copy(conn, brw) // echo until the client closes
	default:
		http.NotFound(w, r)
	}
}

func startStreamingSite(t *testing.T) (*stack, *streamingUpstream) {
	s := newStack(t, fakeinubit.Profile9XML)
	up := &streamingUpstream{next: make(chan string)}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(up.next) })
	s.webappA = srv.Listener.Addr().String()
	s.start(t, s.issueSite(siteOptions{}))
	return s, up
}

// TestServerSentEventsStream: each event reaches the client before the
// upstream writes the next one; nothing is held back by the handler.
func TestServerSentEventsStream(t *testing.T) {
	_, up := startStreamingSite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/events", httpPort), nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "JSESSIONID", Value: "STREAMSESSION"})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	lines := bufio.NewReader(resp.Body)
	for i := range 3 {
		data := fmt.Sprintf("event-%d", i)
		select {
		case up.next <- data:
		case <-time.After(5 * time.Second):
			t.Fatal("upstream not ready for the next event")
		}
		got := make(chan string, 1)
		go func() {
			line, _ := lines.ReadString('\n')
			_, _ = lines.ReadString('\n') // blank line ending the event
			got <- line
		}()
		select {
		case line := <-got:
			assert.Equal(t, "data: "+data+"\n", line)
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d was not delivered while the stream stayed open", i)
		}
	}
}

// TestWebSocketUpgradeEchoes: an upgraded connection through the handler
// and reverse_proxy carries bytes both ways.
func TestWebSocketUpgradeEchoes(t *testing.T) {
	startStreamingSite(t)
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort), 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))

	fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
		"Cookie: JSESSIONID=WSSESSION\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)

	for _, msg := range []string{"hello", "webform@@@X/f(1)_a@@@1.xml"} {
		_, err = conn.Write([]byte(msg))
		require.NoError(t, err)
		buf := make([]byte, len(msg))
		_, err = io.ReadFull(br, buf)
		require.NoError(t, err)
		assert.Equal(t, msg, string(buf))
	}
}
