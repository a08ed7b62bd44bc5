package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// streamingUpstream serves /events as server-sent events, one event per
// value sent on next, until an empty value ends the stream; a request
// without a session cookie gets one, as a servlet container starting a
// session does. /ws is an upgraded connection that echoes.
type streamingUpstream struct {
	next chan string
}

func newStreamingUpstream(t *testing.T) (*streamingUpstream, string) {
	up := &streamingUpstream{next: make(chan string)}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(up.next) })
	return up, srv.Listener.Addr().String()
}

func (u *streamingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/events":
		w.Header().Set("Content-Type", "text/event-stream")
		if _, err := r.Cookie("JSESSIONID"); err != nil {
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "STREAMSESSION", Path: "/"})
		}
		rc := http.NewResponseController(w)
		w.WriteHeader(http.StatusOK)
		if err := rc.Flush(); err != nil {
			return
		}
		for data := range u.next {
			if data == "" {
				return
			}
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
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\n"+
			"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		_, _ = io.Copy(conn, brw) // echo until the client closes
	case "/logout":
		// as a web app logs out: to the start page (a 404 here would
		// be a refused logout, which ends no session)
		http.Redirect(w, r, "/", http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

func startStreamingSite(t *testing.T) (*stack, *streamingUpstream) {
	s := newStack(t, fakeinubit.Profile9XML)
	up, addr := newStreamingUpstream(t)
	s.webappA = addr
	s.start(t, s.issueSite(siteOptions{}))
	return s, up
}

// streamEvents opens the event stream at target and hands up each of events
// only once the client has read the one before, so an event held back
// anywhere on the way fails the test. Then it ends the stream, reads it to
// its end and returns the response.
func streamEvents(t *testing.T, client *http.Client, target string, up *streamingUpstream,
	events []string,
) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	lines := bufio.NewReader(resp.Body)
	for i, data := range append(events, "") {
		select {
		case up.next <- data:
		case <-time.After(5 * time.Second):
			t.Fatalf("upstream not ready for event %d", i)
		}
		if data == "" {
			break // the stream ends
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
	rest, err := io.ReadAll(lines)
	require.NoError(t, err, "the stream ends cleanly")
	assert.Empty(t, rest)
	return resp
}

// TestServerSentEventsStream: each event reaches the client before the
// upstream writes the next one; nothing is held back by the handler. The
// handler still sees the session the stream's answer started and the ID
// an event carried: logout clears it.
func TestServerSentEventsStream(t *testing.T) {
	s, up := startStreamingSite(t)
	id := "webform@@@EventsWAC/form_events(1)_eventsapp@@@30001.xml"
	resp := streamEvents(t, http.DefaultClient,
		fmt.Sprintf("http://127.0.0.1:%d/events?user=alice", httpPort), up,
		[]string{"event-0", "event-1", `{"webappIdentifier":"` + id + `"}`})

	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "JSESSIONID" {
			cookie = c
		}
	}
	require.NotNil(t, cookie, "the stream's answer starts the session")
	logoutURL := fmt.Sprintf("http://127.0.0.1:%d/logout", httpPort)
	req, err := http.NewRequest(http.MethodGet, logoutURL, nil)
	require.NoError(t, err)
	req.AddCookie(cookie)
	logout, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	logout.Body.Close()
	assert.Equal(t, []string{id}, s.waitCleared(t, "alice", []string{id}))
}

// TestWebSocketUpgradeEchoes: an upgraded connection through the handler
// and reverse_proxy carries bytes both ways. The 101 is the final header
// of its request; the session that opened the socket still ends at logout
// with the entry its pages showed. Bytes on the upgraded connection are
// not a response body and are not scanned.
func TestWebSocketUpgradeEchoes(t *testing.T) {
	s, _ := startStreamingSite(t)
	b := newBrowser(t)
	session := &http.Cookie{Name: "JSESSIONID", Value: "WSSESSION", Path: "/"}
	b.client.Jar.SetCookies(&url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", httpPort)},
		[]*http.Cookie{session})
	b.do(http.MethodGet, "/start?user=alice", nil, nil) // the upstream's 404 is fine
	id := b.openForm(formUUID(0))

	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort), 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))

	fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"+
		"Connection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
		"Cookie: JSESSIONID=WSSESSION\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)

	wsID := "webform@@@X/f(1)_a@@@1.xml"
	for _, msg := range []string{"hello", wsID} {
		_, err = conn.Write([]byte(msg))
		require.NoError(t, err)
		buf := make([]byte, len(msg))
		_, err = io.ReadFull(br, buf)
		require.NoError(t, err)
		assert.Equal(t, msg, string(buf))
	}
	require.NoError(t, conn.Close())

	b.do(http.MethodGet, "/logout", nil, nil)
	cleared := s.waitCleared(t, "alice", []string{id})
	assert.Equal(t, []string{id}, cleared, "the socket's bytes are not scanned")
}
