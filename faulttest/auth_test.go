package faulttest

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWrongPasswordThenReload: the password comes from a {file.*}
// placeholder whose file holds a wrong one. INUBIT answers 401 and the
// handler pauses instead of hammering it; once the file is fixed and the
// config reloaded, the queued clear goes out at once.
func TestWrongPasswordThenReload(t *testing.T) {
	st := newStack(t, servicePass)
	secret := filepath.Join(t.TempDir(), "inubit-password")
	require.NoError(t, os.WriteFile(secret, []byte("not the password\n"), 0o600))
	st.caddy.change(func(s *site) { s.password = "{file." + secret + "}" })
	st.caddy.mustStart(t)

	anna := st.browser(t, "anna")
	ids := anna.mustPlaySession(t, 2)

	first := st.mustFirstCall(t, http.StatusUnauthorized)
	time.Sleep(time.Until(first.Time.Add(3 * time.Second)))
	refused := st.fake.Calls()
	figure(t, "auth_wrong_password_calls_in_3s", len(refused))
	assert.LessOrEqual(t, len(refused), 2, "a refused account is not retried in a loop: %s",
		describeCalls(refused))
	assert.Equal(t, len(refused), countStatus(refused, http.StatusUnauthorized))
	assert.NotContains(t, st.caddy.log(), "not the password", "the password is never logged")

	// fix the file; posting the unchanged Caddyfile again is a no-op
	// for Caddy unless forced, as `caddy reload` without --force
	require.NoError(t, os.WriteFile(secret, []byte(servicePass+"\n"), 0o600))
	require.NoError(t, st.caddy.reload(false))
	time.Sleep(1500 * time.Millisecond)
	unforced := st.fake.ClearCallCount() - len(refused)
	figure(t, "auth_calls_after_unforced_identical_reload", unforced)
	figure(t, "auth_caddy_said_config_unchanged",
		strings.Contains(st.caddy.log(), `"config is unchanged"`))

	reloaded := time.Now()
	require.NoError(t, st.caddy.reload(true))
	at := requireCleared(t, st.fake, "anna", ids, 10*time.Second)
	latency := at.Sub(reloaded)
	figure(t, "auth_forced_reload_to_clear", latency)
	assert.Less(t, latency, 3*time.Second, "a reload retries at once")

	time.Sleep(500 * time.Millisecond) // room for a stray repeat
	accepted := acceptedFor(st.fake.Calls(), "anna")
	require.Len(t, accepted, 1, describeCalls(st.fake.Calls()))
	assert.ElementsMatch(t, ids, accepted[0].IDs)
	assert.NotContains(t, st.caddy.log(), servicePass, "the password is never logged")
}
