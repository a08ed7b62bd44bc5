package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
	"github.com/inubit-caddy/caddy-inubit-sessions/internal/demoapp"
)

// examples/rehearsal.Caddyfile does what its comments promise: with the
// emulator in maintenance an ended session's IDs wait, and they are
// cleared within a few seconds of maintenance ending (its short
// maintenance_probe), not after the production default's wait.
func TestRehearsalCaddyfile(t *testing.T) {
	raw, err := os.ReadFile("../examples/rehearsal.Caddyfile")
	require.NoError(t, err)
	text := string(raw)
	site := text[strings.Index(text, "http://127.0.0.1:8080 {"):]

	inubit := fakeinubit.New(fakeinubit.Profile9XML, map[string]string{"svc": servicePass})
	inubitSrv := httptest.NewServer(inubit)
	t.Cleanup(inubitSrv.Close)
	appSrv := httptest.NewServer(demoapp.New(demoapp.Config{}))
	t.Cleanup(appSrv.Close)
	t.Setenv("WEBAPP", appSrv.Listener.Addr().String())
	t.Setenv("INUBIT_REHEARSAL_STORAGE", t.TempDir())

	// Only the addresses change: the test's own ports for the site and
	// the emulator.
	site = strings.Replace(site, "127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", httpPort), 1)
	site = strings.Replace(site, "127.0.0.1:18000", inubitSrv.Listener.Addr().String(), 1)
	(&stack{}).start(t, globalConfig+site)

	inubit.SetMaintenance(true)
	b := newBrowser(t)
	b.login("anna")
	const id = "webform@@@SomeWAC/form_name(2)_appname@@@10020.xml"
	b.do(http.MethodGet, "/", nil, http.Header{"Webappidentifier": {id}})
	b.get("/logout")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, inubit.WaitFor(ctx, func() bool { return inubit.ClearCallCount() >= 1 }))
	assert.Equal(t, http.StatusServiceUnavailable, inubit.Calls()[0].Status)
	assert.Empty(t, inubit.Cleared(), "nothing cleared during maintenance")

	ended := time.Now()
	inubit.SetMaintenance(false)
	cleared := (&stack{inubit: inubit}).waitCleared(t, "anna", []string{id})
	assert.Equal(t, []string{id}, cleared)
	assert.Less(t, time.Since(ended), 6*time.Second, "maintenance_probe 2s: cleared soon after maintenance ended, not after the default 10s")
}
