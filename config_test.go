package inubitsessions

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyserver/caddy/v2"
)

// A JSON config gets the same checks as the Caddyfile's, at provision:
// each mistake is refused with the subdirective's name.
func TestJSONConfigMistakesAreRefusedByName(t *testing.T) {
	base := `"endpoint":"http://127.0.0.1:1/ibis/rest/webapp/session/instances","basic_auth":{"username":"svc","password":"pw"}`
	tests := map[string]string{
		`"logout":["logout"]`:                                            `logout: "logout" never matches`,
		`"logout":["/a["]`:                                               `logout: "/a[" is not a valid pattern`,
		`"user":["{http.request.header.user"]`:                           "user: ",
		`"id_headers":["bad header"]`:                                    "id_header: ",
		`"session_cookie":"a;b"`:                                         "session_cookie: ",
		`"retry_min":"1ms","retry_max":"1s"`:                             "retry_backoff: 1ms is below the minimum",
		`"maintenance_probe":"10ms"`:                                     "maintenance_probe: 10ms is below the minimum",
		`"healthcheck":"/ibis/rest/healthcheck"`:                         "healthcheck: ",
		`"endpoint":"http://127.0.0.1:1/x?user=a"`:                       "endpoint: remove the user query parameter",
		`"session_cookie_path":"app"`:                                    "session_cookie_path: ",
		`"max_id_length":4096`:                                           "max_id_length: ",
		`"fallback_user":"a\nb"`:                                         "fallback_user: ",
		`"idle_timeout":-1`:                                              "idle_timeout: ",
		`"logout":["/logout","/portal/logout*"]`:                         "",
		`"user":["{http.auth.user.id}","service"]`:                       "",
		`"logout":["{http.vars.logout_path}"]`:                           "",
		`"logout":["[/]logout","\\/logout","/a[*","*[","*[*","*.do"]`:    "",
		`"user":["svc}","a}b","x\\{y","\\{literal\\}","{a{b}}","{a\\}"]`: "",
		`"healthcheck":"http://127.0.0.1:1/health"`:                      "",
	}
	for field, want := range tests {
		t.Run(field, func(t *testing.T) {
			var h Handler
			require.NoError(t, json.Unmarshal([]byte("{"+base+","+field+"}"), &h))
			h.fillDefaults()
			err := h.check()
			if err == nil {
				_, err = h.cleanerConfig()
			}
			if want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
}

// Valid but most likely slipped settings load, with a warning that says
// what they will do; usual ones say nothing.
func TestUnusualSettingsAreWarnedAbout(t *testing.T) {
	warnings := func(h Handler) []string {
		core, logs := observer.New(zap.WarnLevel)
		h.logger = zap.New(core)
		h.fillDefaults()
		h.warnUnusual()
		var msgs []string
		for _, e := range logs.All() {
			msgs = append(msgs, e.Message)
		}
		return msgs
	}
	assert.Empty(t, warnings(Handler{}), "the defaults")
	assert.Empty(t, warnings(Handler{IdleTimeout: caddy.Duration(time.Hour), MaxLifetime: caddy.Duration(8 * time.Hour),
		Timeout: caddy.Duration(10 * time.Second)}))

	got := warnings(Handler{IdleTimeout: caddy.Duration(30 * time.Millisecond)})
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "idle_timeout is under a minute")
	got = warnings(Handler{IdleTimeout: caddy.Duration(time.Hour), MaxLifetime: caddy.Duration(time.Minute)})
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "max_lifetime is shorter than idle_timeout")
	got = warnings(Handler{Timeout: caddy.Duration(time.Nanosecond)})
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "timeout is under a second")
}
