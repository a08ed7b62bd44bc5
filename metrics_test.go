package inubitsessions

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

const (
	metricsPrefix   = "caddy_inubit_sessions_"
	metricsPassword = "s3cret-metrics-pass"
	metricsCookie   = "COOKIE-VALUE-4711"
)

// newConfigLoad returns the context of one config load, with its own
// metrics registry as Caddy makes it.
func newConfigLoad() (caddy.Context, context.CancelFunc) {
	return caddy.NewContext(caddy.Context{Context: context.Background()})
}

// provisionLoaded provisions h in a new config load and returns that
// load's registry and its unload func.
func provisionLoaded(t *testing.T, h *Handler) (*prometheus.Registry, func()) {
	t.Helper()
	ctx, cancel := newConfigLoad()
	return ctx.GetMetricsRegistry(), provisionInContext(t, h, ctx, cancel)
}

// metricValue returns the value of one series of g; labels are name,
// value pairs. It fails the test if the series is missing.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	families, err := g.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != metricName(name) {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	require.Failf(t, "series missing", "%s %v", metricName(name), labels)
	return 0
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// exposition returns g's metrics as /metrics serves them.
func exposition(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	promhttp.HandlerFor(g, promhttp.HandlerOpts{}).ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code)
	return w.Body.String()
}

// htmlWith answers with an HTML page that renders id.
func htmlWith(id string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<div data-entry="` + id + `"></div>`))
	}
}

// A session's collection, end and clear show in the metrics of its
// config's registry, and nothing secret or user-chosen does.
func TestMetricsFollowASession(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir(), Logout: []string{"/logout"},
		BasicAuth: &BasicAuth{Username: "svc", Password: metricsPassword}}
	reg, _ := provisionLoaded(t, h)

	serveForTest(t, h, metricsCookie, "anna", "/form", idHeader(regressionID1), nil)
	serveForTest(t, h, metricsCookie, "anna", "/page", nil, htmlWith(regressionID2))
	assert.Equal(t, 1.0, metricValue(t, reg, "sessions_tracked"))
	serveForTest(t, h, metricsCookie, "anna", "/logout", nil, nil)
	require.Len(t, waitCalls(stub, 1, 5*time.Second), 1)
	require.Eventually(t, func() bool { return metricValue(t, reg, "ids_cleared_total") == 2 },
		5*time.Second, 5*time.Millisecond)

	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sessions_tracked", nil, 0},
		{"ids_collected_total", []string{"source", "header"}, 1},
		{"ids_collected_total", []string{"source", "response_body"}, 1},
		{"ids_collected_total", []string{"source", "cookie"}, 0},
		{"sessions_ended_total", []string{"reason", "logout"}, 1},
		{"sessions_ended_total", []string{"reason", "idle"}, 0},
		{"sessions_ended_total", []string{"reason", "evicted"}, 0},
		{"clear_calls_total", []string{"status", "200"}, 1},
		{"clear_calls_total", []string{"status", "503"}, 0},
		{"ids_pending", nil, 0},
		{"ids_parked", nil, 0},
		{"oldest_pending_seconds", nil, 0},
		{"inubit_maintenance", nil, 0},
		{"auth_refused", nil, 0},
	} {
		assert.Equal(t, tc.want, metricValue(t, reg, tc.name, tc.labels...), "%s %v", tc.name, tc.labels)
	}

	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, metricsPrefix) {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
	text := exposition(t, reg)
	for _, secret := range []string{metricsCookie, metricsPassword, "anna", regressionID1, "svc"} {
		assert.NotContains(t, text, secret)
	}
}

// The counts live in the state, so a reload's new registry starts from
// them, and they keep growing under the new config.
func TestMetricsCarryOverReload(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	storage := t.TempDir()
	old := &Handler{Endpoint: srv.URL, Storage: storage, Logout: []string{"/logout"}}
	_, unloadOld := provisionLoaded(t, old)
	serveForTest(t, old, "S1", "anna", "/form", idHeader(regressionID1), nil)
	serveForTest(t, old, "S1", "anna", "/logout", nil, nil)
	require.Len(t, waitCalls(stub, 1, 5*time.Second), 1)

	cur := &Handler{Endpoint: srv.URL, Storage: storage, Logout: []string{"/logout"}}
	reg, _ := provisionLoaded(t, cur)
	unloadOld()
	require.Eventually(t, func() bool { return metricValue(t, reg, "ids_cleared_total") == 1 },
		5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 1.0, metricValue(t, reg, "sessions_ended_total", "reason", "logout"))

	serveForTest(t, cur, "S2", "ben", "/form", idHeader(regressionID2), nil)
	serveForTest(t, cur, "S2", "ben", "/logout", nil, nil)
	require.Eventually(t, func() bool { return metricValue(t, reg, "ids_cleared_total") == 2 },
		5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 2.0, metricValue(t, reg, "sessions_ended_total", "reason", "logout"))
	assert.Equal(t, 2.0, metricValue(t, reg, "clear_calls_total", "status", "200"))
}

// Handlers of one config share one collector: storages are summed, and a
// storage two handlers share counts once.
func TestMetricsSumStoragesOfOneConfig(t *testing.T) {
	_, srv := newStubINUBIT(t)
	ctx, cancel := newConfigLoad()
	defer cancel()
	shared := t.TempDir()
	a := &Handler{Endpoint: srv.URL, Storage: shared}
	a2 := &Handler{Endpoint: srv.URL, Storage: shared}
	b := &Handler{Endpoint: srv.URL + "/other", Storage: t.TempDir()}
	for _, h := range []*Handler{a, a2, b} {
		provisionInContext(t, h, ctx, cancel)
	}
	serveForTest(t, a, "SA", "anna", "/form", idHeader(regressionID1), nil)
	serveForTest(t, b, "SB", "ben", "/form", idHeader(regressionID1), nil)
	reg := ctx.GetMetricsRegistry()
	assert.Equal(t, 2.0, metricValue(t, reg, "sessions_tracked"))
	assert.Equal(t, 2.0, metricValue(t, reg, "ids_collected_total", "source", "header"))
}

// Inputs the handler refuses or cannot use are counted by kind, and only
// the fixed kinds appear.
func TestMetricsCountRefusedInputs(t *testing.T) {
	_, srv := newStubINUBIT(t)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir(), MaxIDsPerSession: 1}
	reg, _ := provisionLoaded(t, h)

	serveForTest(t, h, "", "", "/form", idHeader(regressionID1), nil) // no session
	serveForTest(t, h, "S1", strings.Repeat("u", 300), "/form", idHeader(regressionID2), nil)
	serveForTest(t, h, "S1", "", "/form", idHeader(regressionID1), nil) // over max_ids_per_session
	serveForTest(t, h, "S1", "", "/page", nil, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "br")
		_, _ = w.Write([]byte{0x1b, 0x02})
	})

	for kind, want := range map[string]float64{
		"id_without_session": 1, "user_invalid": 1, "body_not_scanned": 1, "ids_per_session": 1,
		"cookie_too_long": 0,
	} {
		assert.Equal(t, want, metricValue(t, reg, "inputs_refused_total", "kind", kind), kind)
	}
	assertBoundedLabels(t, reg)
}

// A session pushed out by max_sessions counts as ended with reason
// evicted.
func TestMetricsCountEvictedSessions(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir(), MaxSessions: 1}
	reg, _ := provisionLoaded(t, h)
	base, step := time.Now(), 0
	h.now = func() time.Time { step++; return base.Add(time.Duration(step) * time.Second) }
	serveForTest(t, h, "S1", "anna", "/form", idHeader(regressionID1), nil)
	serveForTest(t, h, "S2", "ben", "/form", idHeader(regressionID2), nil)
	require.Len(t, waitCalls(stub, 1, 5*time.Second), 1)
	assert.Equal(t, 1.0, metricValue(t, reg, "sessions_ended_total", "reason", "evicted"))
	assert.Equal(t, 1.0, metricValue(t, reg, "sessions_tracked"))
}

// INUBIT in maintenance shows in the pause gauge and the backlog; a
// refused service account in its own gauge.
func TestMetricsShowPausesAndBacklog(t *testing.T) {
	tests := map[string]struct {
		status int
		gauge  string
	}{
		"maintenance":  {http.StatusServiceUnavailable, "inubit_maintenance"},
		"auth refused": {http.StatusUnauthorized, "auth_refused"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			stub, srv := newStubINUBIT(t)
			stub.setStatus(tc.status)
			h := &Handler{Endpoint: srv.URL, Storage: t.TempDir(), Logout: []string{"/logout"}}
			reg, _ := provisionLoaded(t, h)
			serveForTest(t, h, "S1", "anna", "/form", idHeader(regressionID1), nil)
			serveForTest(t, h, "S1", "anna", "/logout", nil, nil)
			require.Eventually(t, func() bool { return metricValue(t, reg, tc.gauge) == 1 },
				5*time.Second, 5*time.Millisecond)
			assert.Equal(t, 1.0, metricValue(t, reg, "ids_pending"))
			assert.GreaterOrEqual(t, metricValue(t, reg, "clear_calls_total", "status", strconv.Itoa(tc.status)), 1.0)
			require.Eventually(t, func() bool { return metricValue(t, reg, "oldest_pending_seconds") > 0 },
				5*time.Second, 5*time.Millisecond)
		})
	}
}

// An end under a reason the label list does not know counts as other.
func TestCountEndedUnknownReason(t *testing.T) {
	st := &state{tracker: sessiontracker.New(sessiontracker.Config{})}
	st.countEnded(sessiontracker.ReasonIdle)
	st.countEnded("something_new")
	counts := st.countsByName()
	assert.Equal(t, uint64(1), counts.Ended["idle"])
	assert.Equal(t, uint64(1), counts.Ended[reasonOther])
}

// statusLabel matches the values the status label may take.
var statusLabel = regexp.MustCompile(`^([1-5][0-9][0-9]|timeout|error)$`)

// assertBoundedLabels checks that every label value of this module's
// metrics comes from its fixed set.
func assertBoundedLabels(t *testing.T, g prometheus.Gatherer) {
	t.Helper()
	reasons := []string{reasonOther}
	for _, r := range endReasons {
		reasons = append(reasons, string(r))
	}
	allowed := map[string][]string{
		"source": sourceNames[:],
		"kind":   append(refusalNames[:], refusedIDsPerSession),
		"reason": reasons,
	}
	families, err := g.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), metricsPrefix) {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "status" {
					assert.Regexp(t, statusLabel, lp.GetValue(), f.GetName())
					continue
				}
				assert.True(t, slices.Contains(allowed[lp.GetName()], lp.GetValue()),
					"%s{%s=%q} is not in the fixed set", f.GetName(), lp.GetName(), lp.GetValue())
			}
		}
	}
}
