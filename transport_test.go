package inubitsessions

import (
	"context"
	"encoding/pem"
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

	_, err = transportWithCA(filepath.Join(t.TempDir(), "missing.pem"))
	assert.Error(t, err)
	empty := filepath.Join(t.TempDir(), "empty.pem")
	require.NoError(t, os.WriteFile(empty, []byte("not a certificate"), 0o600))
	_, err = transportWithCA(empty)
	assert.ErrorContains(t, err, "no PEM certificate")
}
