package faulttest

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
	"github.com/inubit-caddy/caddy-inubit-sessions/internal/demoapp"
)

// inubitHost serves a fake INUBIT on a fixed 127.0.0.1 address that can
// go down (connections refused) and come back on the same address, or
// hang: accept requests and never answer them.
type inubitHost struct {
	fake *fakeinubit.Server
	addr string

	hang    atomic.Bool
	hung    atomic.Int64  // requests that met the hang
	release chan struct{} // closed when the test ends

	mu  sync.Mutex
	srv *http.Server
}

// newINUBIT starts a fake INUBIT with the service account; it stops
// when the test ends.
func newINUBIT(t *testing.T, profile fakeinubit.Profile) *inubitHost {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := &inubitHost{
		fake:    fakeinubit.New(profile, map[string]string{serviceUser: servicePass}),
		addr:    l.Addr().String(),
		release: make(chan struct{}),
	}
	h.serve(l)
	t.Cleanup(func() {
		close(h.release)
		h.down()
	})
	return h
}

func (h *inubitHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.hang.Load() {
		h.hung.Add(1)
		select {
		case <-r.Context().Done():
		case <-h.release:
		case <-time.After(time.Minute):
		}
		// Drop the connection: an empty 200 would look like success.
		panic(http.ErrAbortHandler)
	}
	h.fake.ServeHTTP(w, r)
}

func (h *inubitHost) serve(l net.Listener) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	h.mu.Lock()
	h.srv = srv
	h.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// down closes the listener and every connection.
func (h *inubitHost) down() {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// up listens again on the same address.
func (h *inubitHost) up(t *testing.T) {
	t.Helper()
	var l net.Listener
	var err error
	for range 100 { // the port may take a moment to be free again
		if l, err = net.Listen("tcp", h.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err, "listening again on %s", h.addr)
	h.serve(l)
}

// startApp runs the demo web app on 127.0.0.1 until the test ends.
func startApp(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(demoapp.New(demoapp.Config{}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// stack is one test's INUBIT, web app and Caddy.
type stack struct {
	inubit *inubitHost
	fake   *fakeinubit.Server
	caddy  *caddyProc
}

// newStack prepares INUBIT, the web app and a Caddy in front of them;
// Caddy is not started yet.
func newStack(t *testing.T, password string) *stack {
	t.Helper()
	in := newINUBIT(t, fakeinubit.Profile9XML)
	s := newSite(t, in.addr, startApp(t))
	return &stack{inubit: in, fake: in.fake, caddy: newCaddy(t, s, password)}
}

// startStack is newStack with the right password, started.
func startStack(t *testing.T) *stack {
	t.Helper()
	st := newStack(t, servicePass)
	st.caddy.mustStart(t)
	return st
}

var errNoCall = errors.New("no clear call arrived")

// firstCall waits for the first clear call and returns it.
func (st *stack) firstCall(timeout time.Duration) (fakeinubit.ClearCall, error) {
	arrived := func() bool { return st.fake.ClearCallCount() > 0 }
	if err := waitFake(st.fake, timeout, arrived); err != nil {
		return fakeinubit.ClearCall{}, errNoCall
	}
	return st.fake.Calls()[0], nil
}

// mustFirstCall waits for the first clear call and requires its status.
func (st *stack) mustFirstCall(t *testing.T, status int) fakeinubit.ClearCall {
	t.Helper()
	first, err := st.firstCall(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, status, first.Status)
	return first
}

// browser returns a new browser for user, pointed at this stack's Caddy.
func (st *stack) browser(t *testing.T, user string) *browser {
	t.Helper()
	return newBrowser(t, st.caddy.site.httpPort, user)
}
