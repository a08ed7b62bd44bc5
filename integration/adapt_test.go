package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// TestCaddyfileAdapt compares each testdata/*.caddyfiletest, a Caddyfile
// then a dashed line then the JSON it must adapt to, as Caddy's own
// adapter tests do.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/*.caddyfiletest")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			caddyfile, want, ok := strings.Cut(string(data), "\n----------\n")
			require.True(t, ok, "missing the dashed separator line")
			if !caddytest.CompareAdapt(t, file, caddyfile, "caddyfile", strings.TrimSpace(want)) {
				t.Error("adapted JSON differs")
			}
		})
	}
}
