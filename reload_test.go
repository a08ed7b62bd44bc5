package inubitsessions

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyserver/caddy/v2"
)

// Regression (lifecycle): Provision writes the new handler's endpoint, credentials
// and limits into the shared state at once. When the new config then fails
// to load (another module errors), Caddy cancels it, which only runs
// Cleanup; the old config keeps serving, but its state now delivers to the
// rejected config's endpoint. Expected: after the failed load, clears still
// go to the running config's endpoint A.
func TestFailedProvisionRestoresSettings(t *testing.T) {
	stubA, srvA := newStubINUBIT(t)
	stubB, srvB := newStubINUBIT(t)
	storage := t.TempDir()

	running := &Handler{Endpoint: srvA.URL, Storage: storage, Logout: []string{"/logout"}}
	provisionForTest(t, running)

	// reload attempt: the new handler provisions, then the config is
	// rejected and Caddy cancels its context (Cleanup)
	rejected := &Handler{Endpoint: srvB.URL, Storage: storage}
	cancelRejected := provisionForTest(t, rejected)
	cancelRejected()

	serveForTest(t, running, "S1", "anna", "/form", idHeader(regressionID1), nil)
	serveForTest(t, running, "S1", "anna", "/logout", nil, nil)

	calls := waitCalls(stubA, 1, 2*time.Second)
	assert.Len(t, calls, 1, "the running config's INUBIT must get the clear")
	assert.Empty(t, stubB.snapshot(), "a rejected config's endpoint must never be called")
}

// Regression (wrong behaviour): the sweep worker reads sweep_interval only when
// its timer fires. After a reload that shortens it (here 1h -> 20ms,
// idle_timeout 1h -> 100ms), idle sessions keep living until the old
// interval has passed; with defaults (30m idle => 1m interval) that is up
// to a minute, and the very first config can also get the 1m placeholder
// set in newState. Expected: the new interval applies right away.
func TestReloadAppliesSweepIntervalAtOnce(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	storage := t.TempDir()

	old := &Handler{
		Endpoint: srv.URL, Storage: storage,
		IdleTimeout: caddy.Duration(time.Hour), SweepInterval: caddy.Duration(time.Hour),
	}
	cancelOld := provisionForTest(t, old)
	// let the sweeper arm its timer with the old interval
	time.Sleep(50 * time.Millisecond)

	cur := &Handler{
		Endpoint: srv.URL, Storage: storage,
		IdleTimeout:   caddy.Duration(100 * time.Millisecond),
		SweepInterval: caddy.Duration(20 * time.Millisecond),
	}
	provisionForTest(t, cur)
	cancelOld() // reload done

	serveForTest(t, cur, "S1", "anna", "/form", idHeader(regressionID1), nil)
	calls := waitCalls(stub, 1, 3*time.Second)
	assert.Len(t, calls, 1, "an idle session must be cleared about idle_timeout+sweep_interval after its last request")
}

// Regression (lost data): entries kept aside because their session showed no
// user are never sent, even after the operator does what the warning
// says and reloads with fallback_user. Expected: after the reload the kept
// entries are cleared for the fallback user.
func TestFallbackUserAdoptsKeptEntries(t *testing.T) {
	stub, srv := newStubINUBIT(t)
	storage := t.TempDir()

	old := &Handler{Endpoint: srv.URL, Storage: storage, Logout: []string{"/logout"}}
	cancelOld := provisionForTest(t, old)
	serveForTest(t, old, "S1", "", "/form", idHeader(regressionID1), nil)
	serveForTest(t, old, "S1", "", "/logout", nil, nil)

	cur := &Handler{Endpoint: srv.URL, Storage: storage, FallbackUser: "fallback"}
	provisionForTest(t, cur)
	cancelOld()

	calls := waitCalls(stub, 1, 5*time.Second)
	if assert.Len(t, calls, 1, "kept entries must be sent once fallback_user is configured") {
		assert.Equal(t, "fallback", calls[0].user)
	}
}

// A reload to a config whose handler names another storage leaves the
// old one's live sessions waiting there; the operator is told, with the
// counts. A storage left empty says nothing (nor does a shutdown, which
// caddy.Exiting tells apart).
func TestReloadLeavingAStorageWithSessionsIsLogged(t *testing.T) {
	_, srv := newStubINUBIT(t)
	oldStorage, newStorage := t.TempDir(), t.TempDir()

	old := &Handler{Endpoint: srv.URL, Storage: oldStorage}
	cancelOld := provisionForTest(t, old)
	serveForTest(t, old, "S1", "anna", "/form", idHeader(regressionID1), nil)
	core, logs := observer.New(zap.WarnLevel)
	old.logger = zap.New(core)

	empty := &Handler{Endpoint: srv.URL, Storage: t.TempDir()}
	cancelEmpty := provisionForTest(t, empty)
	empty.logger = zap.New(core)

	provisionForTest(t, &Handler{Endpoint: srv.URL, Storage: newStorage})
	cancelOld()
	cancelEmpty()

	left := logs.FilterMessageSnippet("no handler of the new config uses this storage").All()
	require.Len(t, left, 1, "only the storage with a live session is reported")
	fields := left[0].ContextMap()
	assert.Equal(t, oldStorage, fields["storage"])
	assert.EqualValues(t, 1, fields["sessions"])
	assert.EqualValues(t, 0, fields["ids_pending"])
}
