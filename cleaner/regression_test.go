package cleaner

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Regression (security: secret in logs): Config.Check quotes the whole endpoint,
// and url.Parse's error does too, before the "credentials in the URL"
// check can run. An endpoint with user:password and a typo (scheme or
// port) puts the password in the provision error, which Caddy prints and
// logs. Expected: no error message contains the password.
func TestEndpointErrorsNeverShowPassword(t *testing.T) {
	for name, endpoint := range map[string]string{
		"bad scheme": "htps://svc:s3cret@inubit.internal/ibis/rest/webapp/session/instances",
		"bad port":   "http://svc:s3cret@inubit.internal:80a/ibis/rest/webapp/session/instances",
		"no host":    "http://svc:s3cret@/ibis",
	} {
		t.Run(name, func(t *testing.T) {
			err := Config{Endpoint: endpoint}.Check()
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
}
