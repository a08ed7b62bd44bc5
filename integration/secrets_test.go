package integration

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// TestNoSecretInLogsOrStore runs sessions, a refused password and its
// repair with every log at DEBUG written to a file, then searches the
// log, the store directory and the emulator's view of the clear calls for
// the service password and the raw session cookie values.
func TestNoSecretInLogsOrStore(t *testing.T) {
	s := newStack(t, fakeinubit.Profile8)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	config := strings.Replace(s.issueSite(siteOptions{extra: "auth_retry 200ms"}), "{\n",
		fmt.Sprintf("{\n\tlog {\n\t\toutput file %s\n\t\tlevel DEBUG\n\t}\n", logFile), 1)
	s.start(t, config)

	var cookies []string
	collect := func(b *browser) {
		u, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d/", httpPort))
		for _, c := range b.client.Jar.Cookies(u) {
			if c.Name == "JSESSIONID" {
				cookies = append(cookies, c.Value)
			}
		}
	}

	// INUBIT refuses the service account first (a rotated password),
	// then accepts it again.
	s.inubit.SetAccount(serviceUser, "rotated")
	alice := newBrowser(t)
	alice.get("/")
	collect(alice)
	alice.login("alice")
	collect(alice)
	opened := alice.openForm(formUUID(0))
	alice.get("/logout")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.inubit.WaitFor(ctx, func() bool { return len(s.inubit.Calls()) > 0 }))
	s.inubit.SetAccount(serviceUser, servicePass)
	s.waitCleared(t, "alice", []string{opened})

	bob := newBrowser(t)
	bob.login("bob")
	collect(bob)
	bob.openForm(formUUID(1))
	bob.get("/session/reset")
	require.Len(t, cookies, 3)

	logs, err := os.ReadFile(logFile)
	require.NoError(t, err)
	require.Contains(t, string(logs), "inubit_sessions", "the handler's logs are in the file")
	secrets := append([]string{servicePass}, cookies...)
	for _, secret := range secrets {
		assert.NotContains(t, string(logs), secret, "a secret or raw cookie value is in the log")
	}
	err = filepath.WalkDir(s.storage, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "%s holds the hashing key: owner only", path)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, secret := range secrets {
			assert.NotContains(t, string(data), secret, "%s stores a secret or raw cookie value", path)
		}
		return nil
	})
	require.NoError(t, err)
	for _, call := range s.inubit.Calls() {
		assert.NotContains(t, call.Body+call.RawQuery, servicePass)
	}
}
