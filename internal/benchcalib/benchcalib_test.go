package benchcalib

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The calibration handlers pass the response through unchanged, and the
// wrapper keeps http.ResponseController working (it flushes through
// Unwrap), as the handler it stands in for does.
func TestCalibrationHandlersPassResponsesThrough(t *testing.T) {
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(http.StatusTeapot)
		if _, err := w.Write([]byte("first ")); err != nil {
			return err
		}
		if err := http.NewResponseController(w).Flush(); err != nil {
			return err
		}
		_, err := w.Write([]byte("second"))
		return err
	})
	for name, h := range map[string]caddyhttp.MiddlewareHandler{
		"bench_noop": Noop{}, "bench_wrap": Wrap{}, "bench_burn": Burn{Duration: caddy.Duration(time.Microsecond)},
	} {
		rec := httptest.NewRecorder()
		require.NoError(t, h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/page", nil), next), name)
		assert.Equal(t, http.StatusTeapot, rec.Code, name)
		assert.Equal(t, "yes", rec.Header().Get("X-Upstream"), name)
		assert.Equal(t, "first second", rec.Body.String(), name)
		assert.True(t, rec.Flushed, name)
	}
}

// bench_burn spends at least its duration per request.
func TestBurnSpendsItsDuration(t *testing.T) {
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	start := time.Now()
	for range 100 {
		require.NoError(t, Burn{Duration: caddy.Duration(50 * time.Microsecond)}.ServeHTTP(
			httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), next))
	}
	assert.GreaterOrEqual(t, time.Since(start), 5*time.Millisecond)
}
