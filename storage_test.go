package inubitsessions

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2"
)

func TestEndpointStorageIsPerEndpoint(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	a := endpointStorage("http://inubit-a:8000/ibis/rest/webapp/session/instances")
	b := endpointStorage("http://inubit-b:8000/ibis/rest/webapp/session/instances")
	assert.NotEqual(t, a, b)
	assert.True(t, strings.HasPrefix(filepath.Base(a), "inubit-a_8000-"), a)
	assert.Equal(t, filepath.Join(caddy.AppDataDir(), "inubit_sessions"), filepath.Dir(a))
	assert.Equal(t, a, endpointStorage("http://inubit-a:8000/ibis/rest/webapp/session/instances"))
}

// Without storage configured, a reload that changes the endpoint keeps
// the running state (sessions and queue), while two sites of one config
// with different endpoints get a directory each.
func TestDefaultStorageFollowsReloadsAndSeparatesEndpoints(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	_, srvA := newStubINUBIT(t)
	_, srvB := newStubINUBIT(t)

	// one config, two sites
	ctx1, cancel1 := caddy.NewContext(caddy.Context{Context: context.Background()})
	siteA := &Handler{Endpoint: srvA.URL, BasicAuth: &BasicAuth{Username: "svc", Password: "pw"}}
	siteB := &Handler{Endpoint: srvB.URL, BasicAuth: &BasicAuth{Username: "svc", Password: "pw"}}
	require.NoError(t, siteA.Provision(ctx1))
	require.NoError(t, siteB.Provision(ctx1))
	assert.NotEqual(t, siteA.Storage, siteB.Storage, "different endpoints, different queues")

	// reload: site A moves to a new endpoint, site B stays
	ctx2, cancel2 := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel2()
	movedA := &Handler{Endpoint: srvA.URL + "/moved", BasicAuth: &BasicAuth{Username: "svc", Password: "pw"}}
	sameB := &Handler{Endpoint: srvB.URL, BasicAuth: &BasicAuth{Username: "svc", Password: "pw"}}
	require.NoError(t, sameB.Provision(ctx2))
	assert.Equal(t, siteB.Storage, sameB.Storage)
	require.NoError(t, movedA.Provision(ctx2))
	assert.Equal(t, siteA.Storage, movedA.Storage, "the running state carries over to the new endpoint")
	assert.Same(t, siteA.state, movedA.state)

	cancel1()
	require.NoError(t, siteA.Cleanup())
	require.NoError(t, siteB.Cleanup())
	assert.Equal(t, srvA.URL+"/moved", movedA.state.cleaner.Endpoint(), "the new endpoint applies")

	require.NoError(t, movedA.Cleanup())
	require.NoError(t, sameB.Cleanup())
}
