package integration

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// TestJSONConfig: the handler configured through Caddy's JSON works like
// the Caddyfile.
func TestJSONConfig(t *testing.T) {
	s := newStack(t, fakeinubit.Profile9JSON)
	config := fmt.Sprintf(`{
	"admin": {"listen": "localhost:%[4]d"},
	"apps": {"http": {"http_port": %[5]d, "grace_period": 1, "servers": {"demo": {
		"listen": ["127.0.0.1:%[5]d"],
		"routes": [
			{"handle": [{
				"handler": "inubit_sessions",
				"endpoint": "http://%[1]s/ibis/rest/webapp/session/instances",
				"basic_auth": {"username": "svc-cleaner", "password": "{env.INUBIT_PASSWORD}"},
				"session_cookie": "JSESSIONID",
				"user": ["{http.request.uri.query.user}"],
				"logout": ["/logout"],
				"idle_timeout": "30m",
				"separator": "comma",
				"storage": %[3]q
			}]},
			{"match": [{"path": ["/ibis/*"]}],
			 "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "%[1]s"}]}]},
			{"handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "%[2]s"}]}]}
		]
	}}}}
}`, s.inubitA, s.webappA, s.storage, adminPort, httpPort)
	caddytest.NewTester(t).InitServer(config, "json")
	if t.Failed() {
		t.FailNow()
	}
	alice := newBrowser(t)
	alice.login("alice")
	a, b := alice.openForm(formUUID(0)), alice.openForm(formUUID(1))
	alice.get("/logout")
	s.waitCleared(t, "alice", []string{a, b})
	assert.Equal(t, a+","+b, s.inubit.Calls()[0].Body)
}

// TestProvisionErrorsNameTheSubdirective: mistakes that only show when
// the config loads fail the load with the field's name.
func TestProvisionErrorsNameTheSubdirective(t *testing.T) {
	tests := map[string]struct {
		block string
		want  string
	}{
		"missing endpoint": {
			"basic_auth svc {env.INUBIT_PASSWORD}", "endpoint: required",
		},
		"relative endpoint": {
			"endpoint /ibis/rest/webapp/session/instances\n basic_auth svc pw", "endpoint:",
		},
		"missing basic_auth": {
			"endpoint http://127.0.0.1:1/ibis/rest/webapp/session/instances", "basic_auth:",
		},
		"bad session cookie name": {
			"endpoint http://127.0.0.1:1/x\n basic_auth svc pw\n session_cookie \"JSESSION ID\"", "session_cookie:",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			caddytest.AssertLoadError(t, globalConfig+siteAddress+" {\n inubit_sessions {\n "+
				tc.block+"\n storage "+t.TempDir()+"\n }\n respond ok\n}\n", "caddyfile", tc.want)
		})
	}
}

// TestSharedStorageNeedsOneEndpoint: two sites of one config that would
// share a queue but deliver to different INUBIT servers are refused.
func TestSharedStorageNeedsOneEndpoint(t *testing.T) {
	storage := t.TempDir()
	caddytest.AssertLoadError(t, globalConfig+sharingSite(httpPort, "http://127.0.0.1:1/a", "pw", storage, "")+
		sharingSite(freePort(), "http://127.0.0.1:1/b", "pw", storage, ""),
		"caddyfile", `uses the same storage (`+storage+`) with endpoint \"http://127.0.0.1:1/`)
}

// Sites of one config sharing a storage share its sessions: one site's
// idle_timeout would silently apply to the other's, or one site's
// fallback_user take the other's entries. Any such difference is
// refused, a password without showing it; equal settings are fine.
// (Which site is provisioned first varies, so the values' order in the
// message does too; TestSharedSettingsConflict checks the wording.)
func TestSharedStorageNeedsTheSameSettings(t *testing.T) {
	const endpoint = "http://127.0.0.1:1/ibis/rest/webapp/session/instances"
	storage := t.TempDir()
	caddytest.AssertLoadError(t, globalConfig+sharingSite(httpPort, endpoint, "pw", storage, "idle_timeout 1h")+
		sharingSite(freePort(), endpoint, "pw", storage, "idle_timeout 30m"),
		"caddyfile", "with idle_timeout")
	caddytest.AssertLoadError(t, globalConfig+sharingSite(httpPort, endpoint, "pw", storage, "fallback_user a")+
		sharingSite(freePort(), endpoint, "pw", storage, "fallback_user b"),
		"caddyfile", "with fallback_user")
	caddytest.AssertLoadError(t, globalConfig+sharingSite(httpPort, endpoint, "first-secret", storage, "")+
		sharingSite(freePort(), endpoint, "second-secret", storage, ""),
		"caddyfile", "with another basic_auth password;")

	tester := caddytest.NewTester(t)
	tester.InitServer(globalConfig+sharingSite(httpPort, endpoint, "pw", storage, "idle_timeout 1h")+
		sharingSite(freePort(), endpoint, "pw", storage, "idle_timeout 1h"), "caddyfile")
	tester.AssertGetResponse(fmt.Sprintf("http://127.0.0.1:%d/", httpPort), http.StatusOK, "ok")
}

// sharingSite is a site on port whose handler uses storage, with extra
// subdirectives.
func sharingSite(port int, endpoint, password, storage, extra string) string {
	return fmt.Sprintf("http://:%d {\n inubit_sessions {\n endpoint %s\n basic_auth svc %s\n storage %s\n %s\n }\n respond ok\n}\n",
		port, endpoint, password, storage, extra)
}
