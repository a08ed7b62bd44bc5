package inubitsessions

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// The environment variables examples/Caddyfile reads with {$NAME:default}.
var exampleEnv = []string{
	"INUBIT_CA_FILE", "INUBIT_PASSWORD_FILE", "INUBIT_STORAGE", "CADDY_LOG_DIR",
}

// adaptedExample is the part of the adapted examples/Caddyfile the tests
// look at.
type adaptedExample struct {
	Admin struct {
		Listen string `json:"listen"`
	} `json:"admin"`
	Apps struct {
		HTTP struct {
			Metrics *struct {
				PerHost bool `json:"per_host"`
			} `json:"metrics"`
			Servers map[string]struct {
				Listen []string       `json:"listen"`
				Routes []adaptedRoute `json:"routes"`
			} `json:"servers"`
		} `json:"http"`
	} `json:"apps"`
}

type adaptedRoute struct {
	Match  []map[string]json.RawMessage `json:"match"`
	Handle []json.RawMessage            `json:"handle"`
}

// adaptedHandler is one handler of a route, with its raw JSON.
type adaptedHandler struct {
	Name string
	Raw  json.RawMessage
}

// handlerChain lists the handlers of routes in order, descending into
// subroutes, as a request that every matcher accepts would meet them.
func handlerChain(t *testing.T, routes []adaptedRoute) []adaptedHandler {
	t.Helper()
	var out []adaptedHandler
	for _, r := range routes {
		for _, raw := range r.Handle {
			var h struct {
				Handler string         `json:"handler"`
				Routes  []adaptedRoute `json:"routes"`
			}
			require.NoError(t, json.Unmarshal(raw, &h))
			if h.Handler == "subroute" {
				out = append(out, handlerChain(t, h.Routes)...)
				continue
			}
			out = append(out, adaptedHandler{Name: h.Handler, Raw: raw})
		}
	}
	return out
}

// adaptExample adapts examples/Caddyfile as `caddy adapt` does.
func adaptExample(t *testing.T) adaptedExample {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("examples", "Caddyfile"))
	require.NoError(t, err)
	adapter := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}
	out, warnings, err := adapter.Adapt(body, map[string]any{"filename": "examples/Caddyfile"})
	require.NoError(t, err)
	// The adapter warns about an unformatted file, among others.
	assert.Empty(t, warnings, "caddy adapt warnings")
	var cfg adaptedExample
	require.NoError(t, json.Unmarshal(out, &cfg))
	return cfg
}

// unsetExampleEnv clears the variables of exampleEnv for the test, so the
// Caddyfile's defaults apply even where CI exports them.
func unsetExampleEnv(t *testing.T) {
	for _, name := range exampleEnv {
		t.Setenv(name, "") // restores the old value after the test
		require.NoError(t, os.Unsetenv(name))
	}
}

// examplesSessionsHandler returns the inubit_sessions handler of the
// example's forms.example.com site, checking the handlers around it.
func examplesSessionsHandler(t *testing.T, cfg adaptedExample) Handler {
	t.Helper()
	forms, ok := cfg.Apps.HTTP.Servers["forms"]
	require.True(t, ok, "server forms (servers :443 { name forms })")
	assert.Equal(t, []string{":443"}, forms.Listen)
	chain := handlerChain(t, forms.Routes)
	var names []string
	for _, h := range chain {
		names = append(names, h.Name)
	}
	// forward_auth (a reverse_proxy) sets the user header, encode wraps
	// inubit_sessions, which wraps the upstreams.
	require.Equal(t,
		[]string{"reverse_proxy", "encode", "inubit_sessions", "reverse_proxy", "reverse_proxy"}, names)

	for _, h := range chain[3:] {
		var rp struct {
			Headers struct {
				Request struct {
					Delete []string `json:"delete"`
				} `json:"request"`
			} `json:"headers"`
		}
		require.NoError(t, json.Unmarshal(h.Raw, &rp))
		assert.Contains(t, rp.Headers.Request.Delete, "Accept-Encoding",
			"upstreams must answer uncompressed, or br/zstd bodies go unscanned")
	}

	dec := json.NewDecoder(strings.NewReader(string(chain[2].Raw)))
	dec.DisallowUnknownFields() // every adapted field is a Handler field
	var raw struct {
		Handler
		Name string `json:"handler"`
	}
	require.NoError(t, dec.Decode(&raw))
	return raw.Handler
}

// examples/Caddyfile adapts without warnings into the deployment its
// comments describe, with the production paths as defaults.
func TestExampleCaddyfileAdapts(t *testing.T) {
	unsetExampleEnv(t)
	cfg := adaptExample(t)

	assert.Equal(t, "localhost:2019", cfg.Admin.Listen)
	require.NotNil(t, cfg.Apps.HTTP.Metrics, "global metrics option")
	assert.True(t, cfg.Apps.HTTP.Metrics.PerHost)
	scrape, ok := cfg.Apps.HTTP.Servers["scrape"]
	require.True(t, ok, "server scrape")
	assert.Equal(t, []string{":9180"}, scrape.Listen)
	var scrapeNames []string
	for _, h := range handlerChain(t, scrape.Routes) {
		scrapeNames = append(scrapeNames, h.Name)
	}
	assert.Equal(t, []string{"metrics", "static_response"}, scrapeNames)

	want := Handler{
		Endpoint: "https://inubit.internal:8443/ibis/rest/webapp/session/instances",
		TLSCA:    "/etc/caddy/inubit-ca.pem",
		BasicAuth: &BasicAuth{
			Username: "svc-cleaner", Password: "{file./run/secrets/inubit_password}",
		},
		SessionCookie:     "JSESSIONID",
		SessionCookiePath: "/",
		User:              []string{"{http.request.header.Remote-User}"},
		Logout:            []string{"/logout", "/portal/logout*"},
		IdleTimeout:       caddy.Duration(30 * time.Minute),
		MaxLifetime:       caddy.Duration(12 * time.Hour),
		Storage:           "/var/lib/caddy/inubit_sessions",
		MaxSessions:       20000,
		MaxIDsPerSession:  64,
		MaxScanBytes:      4 << 20,
		Timeout:           caddy.Duration(30 * time.Second),
		Concurrency:       4,
		RetryMin:          caddy.Duration(time.Second),
		RetryMax:          caddy.Duration(5 * time.Minute),
	}
	assert.Equal(t, want, examplesSessionsHandler(t, cfg))
}

// With the environment variables set, as CI does, the handler of
// examples/Caddyfile takes their paths and provisions: the CA file
// parses, the store opens.
func TestExampleCaddyfileProvisionsWithLocalPaths(t *testing.T) {
	unsetExampleEnv(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	writeTestCA(t, caFile)
	pwFile := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(pwFile, []byte("example-pass\n"), 0o600))
	storage := filepath.Join(dir, "storage")
	t.Setenv("INUBIT_CA_FILE", caFile)
	t.Setenv("INUBIT_PASSWORD_FILE", pwFile)
	t.Setenv("INUBIT_STORAGE", storage)
	t.Setenv("CADDY_LOG_DIR", filepath.Join(dir, "log"))

	h := examplesSessionsHandler(t, adaptExample(t))
	assert.Equal(t, caFile, h.TLSCA)
	assert.Equal(t, "{file."+pwFile+"}", h.BasicAuth.Password)
	assert.Equal(t, storage, h.Storage)

	// Nothing is queued, so no clear call is made; the endpoint points at
	// a loopback stub all the same, so that no test can reach for the
	// example's host name.
	_, srv := newStubINUBIT(t)
	h.Endpoint = srv.URL + "/ibis/rest/webapp/session/instances"
	provisionForTest(t, &h)
	assert.FileExists(t, filepath.Join(storage, "inubit_sessions.db"))
}

// writeTestCA writes a self-signed CA certificate as PEM to path.
func writeTestCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "example INUBIT CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	require.NoError(t, os.WriteFile(path, block, 0o600))
}
