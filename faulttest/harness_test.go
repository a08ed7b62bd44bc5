package faulttest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

const (
	serviceUser = "svc-cleaner"
	servicePass = "correct horse battery staple"
)

// caddyBin is the Caddy binary built by TestMain; buildErr says why
// there is none, and every test fails with it.
var (
	caddyBin string
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faulttest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faulttest: creating the build directory:", err)
		os.Exit(1)
	}
	started := time.Now()
	caddyBin, buildErr = buildCaddy(dir)
	fmt.Fprintf(os.Stderr, "faulttest: built Caddy in %s\n",
		time.Since(started).Round(time.Millisecond))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildCaddy compiles cmd/caddy of this repository into dir.
func buildCaddy(dir string) (string, error) {
	bin := filepath.Join(dir, "caddy")
	args := []string{"build", "-o", bin}
	if os.Getenv("FAULTTEST_CADDY_RACE") == "1" {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/caddy")...)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/caddy: %w\n%s", err, out)
	}
	return bin, nil
}

// requireBinary fails the test if Caddy could not be built.
func requireBinary(t *testing.T) {
	t.Helper()
	require.NoError(t, buildErr, "building Caddy")
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// figure logs one measurement in a form that grep finds.
func figure(t *testing.T, name string, value any) {
	t.Helper()
	if d, ok := value.(time.Duration); ok {
		value = fmt.Sprintf("%dms", d.Milliseconds())
	}
	t.Logf("FIGURE %s=%v", name, value)
}

// waitFake waits up to timeout for cond, re-checked at every change of
// the fake INUBIT.
func waitFake(fake *fakeinubit.Server, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return fake.WaitFor(ctx, cond)
}

// requireCleared waits until every ID of want was accepted for user and
// returns the time of the call that completed the set.
func requireCleared(t *testing.T, fake *fakeinubit.Server, user string, want []string,
	timeout time.Duration,
) time.Time {
	t.Helper()
	err := waitFake(fake, timeout, func() bool { return clearedAll(fake, user, want) })
	require.NoError(t, err, "INUBIT did not get %s's IDs %v cleared; calls: %s",
		user, want, describeCalls(fake.Calls()))
	var at time.Time
	for _, c := range fake.Calls() {
		if c.Status == 200 && slices.Equal(c.Users, []string{user}) {
			at = c.Time
		}
	}
	return at
}

func clearedAll(fake *fakeinubit.Server, user string, want []string) bool {
	got := fake.Cleared()[user]
	for _, id := range want {
		if !slices.Contains(got, id) {
			return false
		}
	}
	return true
}

// acceptedFor returns the accepted clear calls for user.
func acceptedFor(calls []fakeinubit.ClearCall, user string) []fakeinubit.ClearCall {
	var out []fakeinubit.ClearCall
	for _, c := range calls {
		if c.Status == 200 && slices.Equal(c.Users, []string{user}) {
			out = append(out, c)
		}
	}
	return out
}

// countStatus counts the clear calls answered with status.
func countStatus(calls []fakeinubit.ClearCall, status int) int {
	n := 0
	for _, c := range calls {
		if c.Status == status {
			n++
		}
	}
	return n
}

// describeCalls renders clear calls for a failure message.
func describeCalls(calls []fakeinubit.ClearCall) string {
	s := fmt.Sprintf("%d calls", len(calls))
	for _, c := range calls {
		s += fmt.Sprintf("\n  %s status=%d users=%v ids=%v",
			c.Time.Format("15:04:05.000"), c.Status, c.Users, c.IDs)
	}
	return s
}

// perMinute converts a count over window into a rate per minute.
func perMinute(n int, window time.Duration) string {
	if window <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", float64(n)*float64(time.Minute)/float64(window))
}
