package inubitsessions

// Helpers for the regression tests: a recording INUBIT stub and a
// handler provisioned the way Caddy does it (Provision on a caddy.Context,
// Cleanup on cancel).

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

const (
	regressionID1 = "webform@@@OrderWAC/form_orderentry(2)_orderapp@@@10020.xml"
	regressionID2 = "webform@@@OrderWAC/form_orderentry(3)_orderapp@@@10021.xml"
)

type stubCall struct {
	user string
	body string
}

// stubINUBIT is a fake INUBIT clear endpoint that records every call.
type stubINUBIT struct {
	mu     sync.Mutex
	calls  []stubCall
	status int
}

func newStubINUBIT(t *testing.T) (*stubINUBIT, *httptest.Server) {
	t.Helper()
	s := &stubINUBIT{status: http.StatusOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.calls = append(s.calls, stubCall{user: r.URL.Query().Get("user"), body: string(body)})
		status := s.status
		s.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *stubINUBIT) snapshot() []stubCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stubCall(nil), s.calls...)
}

func (s *stubINUBIT) setStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}

// provisionForTest provisions h like Caddy would and returns the cancel
// func that runs its Cleanup (as a config unload does).
func provisionForTest(t *testing.T, h *Handler) (cancel func()) {
	t.Helper()
	ctx, cancelCtx := caddy.NewContext(caddy.Context{Context: context.Background()})
	return provisionInContext(t, h, ctx, cancelCtx)
}

// provisionInContext provisions h in ctx, a config load's context with
// its own metrics registry; cancelCtx unloads it.
func provisionInContext(t *testing.T, h *Handler, ctx caddy.Context, cancelCtx context.CancelFunc) (cancel func()) {
	t.Helper()
	if h.BasicAuth == nil {
		h.BasicAuth = &BasicAuth{Username: "svc", Password: "pw"}
	}
	if len(h.User) == 0 {
		h.User = []string{"{http.request.header.X-User}"}
	}
	if h.RetryMin == 0 {
		h.RetryMin = caddy.Duration(10 * time.Millisecond)
		h.RetryMax = caddy.Duration(50 * time.Millisecond)
	}
	require.NoError(t, h.Provision(ctx))
	var once sync.Once
	cancel = func() {
		once.Do(func() {
			cancelCtx()
			require.NoError(t, h.Cleanup())
		})
	}
	t.Cleanup(cancel)
	return cancel
}

// serveForTest runs one request through h with the given cookie, user,
// path and extra headers; next is the rest of the chain.
func serveForTest(t *testing.T, h *Handler, cookie, user, path string, hdr http.Header,
	next func(w http.ResponseWriter, r *http.Request),
) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil)
	for k, v := range hdr {
		r.Header[k] = v
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: "JSESSIONID", Value: cookie})
	}
	if user != "" {
		r.Header.Set("X-User", user)
	}
	caddyhttp.NewTestReplacer(r)
	w := httptest.NewRecorder()
	if next == nil {
		next = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }
	}
	err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		next(w, r)
		return nil
	}))
	require.NoError(t, err)
	return w
}

func idHeader(id string) http.Header {
	return http.Header{"Webappidentifier": {id}}
}

// waitCalls waits up to d for the stub to have at least n calls.
func waitCalls(s *stubINUBIT, n int, d time.Duration) []stubCall {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c := s.snapshot(); len(c) >= n {
			return c
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s.snapshot()
}
