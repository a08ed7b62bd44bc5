package cleaner

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// recordedCall is one request the test server received.
type recordedCall struct {
	query       url.Values
	rawQuery    string
	user, pass  string
	contentType string
	accept      string
	body        string
}

// inubitStub answers clear calls with the statuses in answers, then 200.
type inubitStub struct {
	mu      sync.Mutex
	calls   []recordedCall
	answers []int
	got     chan struct{}
}

func newStub(t *testing.T, answers ...int) (*inubitStub, *httptest.Server) {
	s := &inubitStub{answers: answers, got: make(chan struct{}, 100)}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *inubitStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	user, pass, _ := r.BasicAuth()
	s.mu.Lock()
	s.calls = append(s.calls, recordedCall{
		query: r.URL.Query(), rawQuery: r.URL.RawQuery, user: user, pass: pass,
		contentType: r.Header.Get("Content-Type"), accept: r.Header.Get("Accept"),
		body: string(body),
	})
	status := http.StatusOK
	if len(s.answers) > 0 {
		status, s.answers = s.answers[0], s.answers[1:]
	}
	s.mu.Unlock()
	w.WriteHeader(status)
	s.got <- struct{}{}
}

func (s *inubitStub) wait(t *testing.T, n int) []recordedCall {
	t.Helper()
	for range n {
		select {
		case <-s.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for clear call")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recordedCall(nil), s.calls...)
}

// attempts returns the failed calls since the last success for user.
func (c *Cleaner) attempts(user string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if q := c.users[user]; q != nil {
		return q.attempts
	}
	return 0
}

func startCleaner(t *testing.T, cfg Config) *Cleaner {
	t.Helper()
	return startCleanerLogging(t, cfg, zap.NewNop())
}

// startCleanerLogging is startCleaner with logger.
func startCleanerLogging(t *testing.T, cfg Config, logger *zap.Logger) *Cleaner {
	t.Helper()
	c, err := New(cfg, NewMemoryQueue(), logger)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

const (
	id1 = "webform@@@OrderWAC/form_orderentry(2)_orderapp@@@10020.xml"
	id2 = "webform@@@OrderWAC/form_orderentry(3)_orderapp@@@10021.xml"
	id3 = "webform@@@OrderWAC/form_orderentry(4)_orderapp@@@10022.xml"
)

func TestClearCallWireFormat(t *testing.T) {
	tests := map[string]struct {
		separator string
		wantBody  string
	}{
		"newline": {SeparatorNewline, id1 + "\n" + id2},
		"comma":   {SeparatorComma, id1 + "," + id2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			stub, srv := newStub(t)
			c := startCleaner(t, Config{
				Endpoint: srv.URL + "/ibis/rest/webapp/session/instances?userType=processEngineUser",
				Username: "svc-cleaner", Password: "s3cret", Separator: tc.separator,
			})
			require.NoError(t, c.Enqueue("anna müller&x=1#", []string{id1, id2, id1}))
			calls := stub.wait(t, 1)
			require.Len(t, calls, 1)
			call := calls[0]
			assert.Equal(t, []string{"anna müller&x=1#"}, call.query["user"], "user is exactly one value")
			assert.Equal(t, []string{"processEngineUser"}, call.query["userType"], "endpoint query is kept")
			assert.NotContains(t, call.rawQuery, "+", "spaces are sent as %20")
			assert.Equal(t, "svc-cleaner", call.user)
			assert.Equal(t, "s3cret", call.pass)
			assert.Equal(t, "text/plain; charset=utf-8", call.contentType)
			assert.Equal(t, "application/xml", call.accept)
			assert.Equal(t, tc.wantBody, call.body, "IDs deduplicated, no trailing separator")
		})
	}
}

func TestOneCallPerUserAndBatches(t *testing.T) {
	stub, srv := newStub(t)
	c := startCleaner(t, Config{Endpoint: srv.URL, Username: "u", BatchSize: 2})
	require.NoError(t, c.Enqueue("alice", []string{id1, id2, id3}))
	require.NoError(t, c.Enqueue("bob", []string{id1}))
	calls := stub.wait(t, 3)
	byUser := map[string][]string{}
	for _, call := range calls {
		u := call.query.Get("user")
		byUser[u] = append(byUser[u], strings.Split(call.body, "\n")...)
		assert.LessOrEqual(t, len(strings.Split(call.body, "\n")), 2)
	}
	assert.ElementsMatch(t, []string{id1, id2, id3}, byUser["alice"])
	assert.Equal(t, []string{id1}, byUser["bob"])
	assert.Eventually(t, func() bool { return len(c.Pending()) == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestTransientFailuresAreRetriedUntil200(t *testing.T) {
	stub, srv := newStub(t, 500, 502, 504)
	c := startCleaner(t, Config{
		Endpoint: srv.URL, Username: "u",
		RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond,
	})
	require.NoError(t, c.Enqueue("alice", []string{id1}))
	calls := stub.wait(t, 4)
	for _, call := range calls {
		assert.Equal(t, id1, call.body)
	}
	assert.Eventually(t, func() bool { return len(c.Pending()) == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestUnreachableEndpointKeepsIDs(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL
	srv.Close() // nothing listens there any more
	core, logs := observer.New(zap.InfoLevel)
	c := startCleanerLogging(t, Config{Endpoint: endpoint, Username: "u", RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond},
		zap.New(core))
	require.NoError(t, c.Enqueue("alice", []string{id1, id2}))
	require.Eventually(t, func() bool { return c.attempts("alice") >= 3 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, map[string]int{"alice": 2}, c.Pending())
	failed := logs.FilterMessageSnippet("INUBIT unreachable").All()
	require.NotEmpty(t, failed)
	fields := failed[0].ContextMap()
	assert.Equal(t, "alice", fields["user"])
	assert.EqualValues(t, 2, fields["count"])
	assert.NotContains(t, fields, "status", "no answer, no status: a 0 would read as one")
	assert.Contains(t, fields, "error")
}

func TestConfigureRedirectsQueuedIDs(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	deadEndpoint := down.URL
	down.Close()
	stub, srv := newStub(t)
	c := startCleaner(t, Config{Endpoint: deadEndpoint, Username: "u", RetryMin: time.Hour, RetryMax: time.Hour})
	require.NoError(t, c.Enqueue("alice", []string{id1}))
	require.Eventually(t, func() bool { return c.attempts("alice") > 0 }, 5*time.Second, time.Millisecond,
		"first attempt fails")
	require.NoError(t, c.Configure(Config{Endpoint: srv.URL, Username: "u"}))
	calls := stub.wait(t, 1)
	assert.Equal(t, id1, calls[0].body, "the new endpoint gets the queued ID without waiting out the backoff")
}

func TestEntriesWithoutUserAreKept(t *testing.T) {
	stub, srv := newStub(t)
	c := startCleaner(t, Config{Endpoint: srv.URL, Username: "u"})
	require.NoError(t, c.Enqueue("", []string{id1}))
	kept, err := c.queue.Peek("", 10)
	require.NoError(t, err)
	assert.Equal(t, []string{id1}, kept, "kept in the queue")
	assert.Empty(t, c.Pending())
	select {
	case <-stub.got:
		t.Fatal("no call may be made without a user")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	tests := map[string]struct {
		cfg  Config
		want string
	}{
		"missing endpoint":  {Config{}, "endpoint"},
		"relative endpoint": {Config{Endpoint: "/ibis/rest"}, "endpoint"},
		"ftp endpoint":      {Config{Endpoint: "ftp://x/"}, "endpoint"},
		"creds in URL":      {Config{Endpoint: "http://u:p@x/"}, "basic_auth"},
		"bad separator":     {Config{Endpoint: "http://x/", Separator: ";"}, "separator"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.cfg.Check()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// A malformed URL that may carry credentials is refused without them in
// the message, which Caddy logs.
func TestMalformedURLErrorsShowNoCredentials(t *testing.T) {
	for _, raw := range []string{
		"http:/svc:TopSecret@127.0.0.1:18000/ibis/rest/webapp/session/instances",
		"http//svc:TopSecret@127.0.0.1:18000/x",
		"https:///svc:TopSecret@host/x",
		"svc:TopSecret@host/x",
		"http://[::1%zz]/svc:TopSecret@x",
	} {
		err := Config{Endpoint: raw}.Check()
		require.Error(t, err, raw)
		assert.Contains(t, err.Error(), "endpoint", raw)
		assert.NotContains(t, err.Error(), "TopSecret", raw)
		err = CheckHealthURL(raw)
		require.Error(t, err, raw)
		assert.NotContains(t, err.Error(), "TopSecret", raw)
	}
	err := Config{Endpoint: "ftp://inubit.internal/x?a=b@c"}.Check()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"ftp://inubit.internal/x?a=b@c"`, "nothing to hide: shown whole")
}

func TestQueuedBeforeStartIsDelivered(t *testing.T) {
	stub, srv := newStub(t)
	q := NewMemoryQueue()
	_, err := q.Add(map[string][]string{"alice": {id1, id2}})
	require.NoError(t, err)
	c, err := New(Config{Endpoint: srv.URL, Username: "u"}, q, zap.NewNop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	calls := stub.wait(t, 1)
	assert.Equal(t, id1+"\n"+id2, calls[0].body)
	assert.Eventually(t, func() bool { n, _ := q.PendingCounts(); return len(n) == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	for attempts := 1; attempts < 20; attempts++ {
		d := backoff(attempts, time.Second, 5*time.Minute)
		full := min(time.Second<<(attempts-1), 5*time.Minute)
		assert.GreaterOrEqual(t, d, max(full/2, time.Second), "attempt %d: never below min", attempts)
		assert.LessOrEqual(t, d, full, "attempt %d", attempts)
	}
}

func TestResponseHintIsShortAndPlain(t *testing.T) {
	page := "<html><head><title>HTTP Status 401 – Unauthorized</title></head><body>\r\n" +
		strings.Repeat("<p>bad credentials</p>", 50) + "</body></html>"
	hint := responseHint(strings.NewReader(page))
	assert.True(t, strings.HasPrefix(hint, "HTTP Status 401 – Unauthorized bad credentials"), hint)
	assert.NotContains(t, hint, "<")
	assert.NotContains(t, hint, "\n")
	assert.LessOrEqual(t, len(hint), maxHintBytes+4)
}

// Tomcat's error page (INUBIT 8.x) opens with a stylesheet: the hint must
// show the page's message, not its CSS.
func TestResponseHintSkipsStylesAndScripts(t *testing.T) {
	page := `<!doctype html><html lang="en"><head><title>HTTP Status 500 – Internal Server Error</title>` +
		`<style type="text/css">body {font-family:Tahoma,Arial,sans-serif;} h1 {font-size:22px;}</style>` +
		`<SCRIPT>var x = "<b>";</SCRIPT></head><body><h1>HTTP Status 500 – Internal Server Error</h1>` +
		`<p><b>Message</b> engine busy</p></body></html>`
	hint := responseHint(strings.NewReader(page))
	assert.NotContains(t, hint, "font-family")
	assert.NotContains(t, hint, "var x")
	assert.Contains(t, hint, "Message engine busy")
	assert.Equal(t, "a b", strings.Join(strings.Fields(stripTags("a<style")+" b"), " "), "a cut-off style element")
	assert.Contains(t, stripTags("<stylesheet>text</stylesheet>"), "text", "only style itself is skipped")
}

// Configure releases the previous transport's idle connections, so that
// config reloads do not pile up open connections to INUBIT.
func TestConfigureClosesPreviousIdleConnections(t *testing.T) {
	var open atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	stub := Config{Endpoint: srv.URL, Username: "u"}
	c := startCleaner(t, stub)
	require.NoError(t, c.Enqueue("alice", []string{id1}))
	require.Eventually(t, func() bool { return len(c.Pending()) == 0 }, 5*time.Second, time.Millisecond)
	require.Equal(t, int64(1), open.Load(), "one keep-alive connection after the call")

	require.NoError(t, c.Configure(stub))
	assert.Eventually(t, func() bool { return open.Load() == 0 }, 5*time.Second, time.Millisecond,
		"the old transport's idle connection is closed")
}
