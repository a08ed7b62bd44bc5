package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// onlyHTTP2 fails the test on any response that did not come over HTTP/2.
type onlyHTTP2 struct {
	t  *testing.T
	rt http.RoundTripper
}

func (o onlyHTTP2) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := o.rt.RoundTrip(r)
	if err == nil && resp.ProtoMajor != 2 {
		o.t.Errorf("%s %s came over %s, not HTTP/2", r.Method, r.URL.Path, resp.Proto)
	}
	return resp, err
}

// waitForCertificate waits until the site on 127.0.0.1:port completes a
// TLS handshake with a certificate from Caddy's local CA, which Caddy
// issues in the background, and returns that CA's root.
func waitForCertificate(t *testing.T, storage string, port int) *x509.CertPool {
	t.Helper()
	rootFile := filepath.Join(storage, "pki", "authorities", "local", "root.crt")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		pem, err := os.ReadFile(rootFile)
		if err != nil {
			lastErr = err
			time.Sleep(50 * time.Millisecond)
			continue
		}
		roots := x509.NewCertPool()
		require.True(t, roots.AppendCertsFromPEM(pem), "Caddy's local root is PEM")
		dialer := &tls.Dialer{
			NetDialer: &net.Dialer{Timeout: 2 * time.Second},
			Config: &tls.Config{
				RootCAs: roots, ServerName: "127.0.0.1", NextProtos: []string{"h2"},
			},
		}
		conn, err := dialer.DialContext(context.Background(), "tcp", addr)
		if err == nil {
			conn.Close()
			return roots
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no certificate from Caddy's local CA for %s: %v", addr, lastErr)
	return nil
}

// TestHTTP2: over HTTP/2, with TLS from Caddy's local CA and in clear
// text (h2c), the handler tracks the session cookie the app rotates at
// login, scans the form page, passes an event stream through one event at
// a time, and ends the session at logout: INUBIT clears the form and the
// ID an event carried.
func TestHTTP2(t *testing.T) {
	// each starts Caddy with the site block and returns its base URL and
	// a transport that speaks HTTP/2 only
	type starter func(t *testing.T, s *stack, site string) (base string, rt http.RoundTripper)
	tests := map[string]starter{
		"TLS": func(t *testing.T, s *stack, site string) (string, http.RoundTripper) {
			storage := t.TempDir()
			s.start(t, globalOptions(`local_certs
	auto_https disable_redirects
	storage file_system `+storage+`
	servers {
		protocols h1 h2
	}`)+fmt.Sprintf("https://127.0.0.1:%d", httpsPort)+site)
			roots := waitForCertificate(t, storage, httpsPort)
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
			tr.Protocols = new(http.Protocols)
			tr.Protocols.SetHTTP2(true)
			t.Cleanup(tr.CloseIdleConnections)
			return fmt.Sprintf("https://127.0.0.1:%d", httpsPort), tr
		},
		"h2c": func(t *testing.T, s *stack, site string) (string, http.RoundTripper) {
			s.start(t, globalOptions(`servers {
		protocols h1 h2c
	}`)+siteAddress+site)
			tr := &http.Transport{}
			tr.Protocols = new(http.Protocols)
			tr.Protocols.SetUnencryptedHTTP2(true)
			t.Cleanup(tr.CloseIdleConnections)
			return fmt.Sprintf("http://127.0.0.1:%d", httpPort), tr
		},
	}
	for name, start := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStack(t, fakeinubit.Profile9JSON)
			up, upAddr := newStreamingUpstream(t)
			base, rt := start(t, s, ` {
	`+s.handlerBlock(siteOptions{})+`
	reverse_proxy /events `+upAddr+`
	reverse_proxy /ibis/* `+s.inubitA+`
	reverse_proxy `+s.webappA+`
}
`)
			alice := newBrowserAt(t, base, onlyHTTP2{t: t, rt: rt})
			alice.get("/")
			before := alice.openForm(formUUID(0))
			alice.login("alice") // the app rotates JSESSIONID here
			after := alice.openForm(formUUID(1))

			eventID := "webform@@@EventsWAC/form_events(2)_eventsapp@@@30002.xml"
			streamEvents(t, alice.client, base+"/events", up,
				[]string{"event-0", `{"webappIdentifier":"` + eventID + `"}`, "event-2"})
			assert.Empty(t, s.inubit.Calls(), "nothing ended the session yet")

			alice.get("/logout")
			want := []string{before, after, eventID}
			assert.ElementsMatch(t, want, s.waitCleared(t, "alice", want))
		})
	}
}
