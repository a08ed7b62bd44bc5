package inubitsessions

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/inubit-caddy/caddy-inubit-sessions/cleaner"
	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// selfSignedCA returns the PEM of a new CA certificate, unrelated to the
// test servers' certificate.
func selfSignedCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Clear calls reach an https INUBIT whose certificate is signed by a CA
// given in tls_ca.
func TestTLSWithCustomCA(t *testing.T) {
	inubit := fakeinubit.New(fakeinubit.Profile9XML, map[string]string{"svc": "pw"})
	srv := httptest.NewTLSServer(inubit)
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile,
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	transport, err := transportWithCA(caFile)
	require.NoError(t, err)
	c, err := cleaner.New(cleaner.Config{
		Endpoint: srv.URL + fakeinubit.ClearPath, Username: "svc", Password: "pw", Transport: transport,
	}, cleaner.NewMemoryQueue(), zap.NewNop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	require.NoError(t, c.Enqueue("alice", []string{testID}))
	wait, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	require.NoError(t, inubit.WaitFor(wait, func() bool { return len(inubit.Cleared()["alice"]) == 1 }))

	// A CA that did not sign INUBIT's certificate is not trusted: the
	// transport verifies, it does not merely connect.
	otherCA := filepath.Join(t.TempDir(), "other.pem")
	require.NoError(t, os.WriteFile(otherCA, selfSignedCA(t), 0o600))
	wrong, err := transportWithCA(otherCA)
	require.NoError(t, err)
	_, err = (&http.Client{Transport: wrong, Timeout: 5 * time.Second}).Get(srv.URL + "/ibis/rest/healthcheck")
	var unknownAuthority x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &unknownAuthority, "a certificate from another CA must be refused")

	_, err = transportWithCA(filepath.Join(t.TempDir(), "missing.pem"))
	assert.Error(t, err)
	empty := filepath.Join(t.TempDir(), "empty.pem")
	require.NoError(t, os.WriteFile(empty, []byte("not a certificate"), 0o600))
	_, err = transportWithCA(empty)
	assert.ErrorContains(t, err, "no PEM certificate")
}
