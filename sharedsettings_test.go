package inubitsessions

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/cleaner"
)

func TestSharedSettingsConflict(t *testing.T) {
	base := attachment{cfg: cleaner.Config{Endpoint: "http://inubit/x", Username: "svc", Password: "first-secret"}}
	base.ts.limits.IdleTimeout = time.Hour
	assert.NoError(t, base.conflictWith(&base, "/s"), "equal settings")

	other := base
	other.cfg.Password = "second-secret"
	err := other.conflictWith(&base, "/s")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another basic_auth password")
	assert.NotContains(t, err.Error(), "secret", "neither password is shown")

	other = base
	other.ts.limits.IdleTimeout = 30 * time.Minute
	err = other.conflictWith(&base, "/s")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `same storage (/s) with idle_timeout "1h0m0s", this one "30m0s"`)

	other = base
	other.tlsCA = "/etc/caddy/other-ca.pem"
	err = other.conflictWith(&base, "/s")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `tls_ca "", this one "/etc/caddy/other-ca.pem"`)
}
