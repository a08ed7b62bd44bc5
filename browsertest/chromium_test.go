package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// chromiumLauncher is the command Debian's chromium package installs;
	// its absence means the package is not installed.
	chromiumLauncher = "/usr/bin/chromium"
	// chromiumBinary is the program the launcher ends up running. The
	// tests start it directly: the launcher would add Debian's defaults,
	// Google API keys in the environment and remote extensions among
	// them, to a browser that must stay on loopback.
	chromiumBinary = "/usr/lib/chromium/chromium"
	// switchEnv turns the browser tests off when set to "skip".
	switchEnv = "INUBIT_BROWSER_TEST"

	// launchWait bounds Chromium's start and first blank page; closeWait
	// its orderly shutdown.
	launchWait = 30 * time.Second
	closeWait  = 15 * time.Second
)

// requireChromium skips the test when INUBIT_BROWSER_TEST=skip and fails
// it when Debian's Chromium is not installed.
func requireChromium(t *testing.T) {
	t.Helper()
	switch v := os.Getenv(switchEnv); v {
	case "":
	case "skip":
		t.Skipf("%s=skip: browser tests left out", switchEnv)
	default:
		t.Fatalf("%s=%q: only \"skip\" is understood", switchEnv, v)
	}
	for _, path := range []string{chromiumLauncher, chromiumBinary} {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("Debian's Chromium is not installed (%v): run `bash scripts/install-browser.sh` "+
				"as root, or set %s=skip to leave the browser tests out", err, switchEnv)
		}
	}
}

// trap is a forward proxy on loopback that answers every request with
// 403 and remembers it. Chromium is pointed at it, so a request for any
// host other than loopback ends here instead of leaving the machine.
type trap struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []trapped
}

// trapped is one request that reached the trap.
type trapped struct {
	method string
	host   string // host, or host:port for CONNECT
	target string // the request target as sent
}

func (r trapped) String() string { return r.method + " " + r.target }

func startTrap(t *testing.T) *trap {
	t.Helper()
	tr := &trap{}
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.seen = append(tr.seen, trapped{method: r.Method, host: r.Host, target: r.RequestURI})
		tr.mu.Unlock()
		http.Error(w, "browsertest: loopback only", http.StatusForbidden)
	}))
	t.Cleanup(tr.srv.Close)
	return tr
}

// requests returns what reached the trap so far.
func (tr *trap) requests() []trapped {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.seen)
}

// checkConfined fails the test if a request for a loopback host reached
// the trap: those must go straight to their server. Requests for other
// hosts are expected, since Chromium 156 still calls a few Google
// services with every background switch set (the on-device model
// manifest on update.googleapis.com, accounts.google.com); they are
// logged, and they ended here, on loopback.
func (tr *trap) checkConfined(t *testing.T) {
	t.Helper()
	for _, r := range tr.requests() {
		host := r.host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		ip := net.ParseIP(host)
		assert.False(t, host == "localhost" || ip != nil && ip.IsLoopback(),
			"a request for loopback went to the proxy: %s", r)
		t.Logf("Chromium tried beyond loopback, stopped at the trap: %s", r)
	}
}

// chromium is one headless Chromium with one tab.
type chromium struct {
	tab  context.Context // chromedp context of the tab
	trap *trap
}

// startChromium starts Chromium confined to loopback and returns it with
// a blank tab. When the test ends, Chromium is closed (killed if it does
// not close in time) and its fresh profile directory is removed; the
// test fails if a Chromium process or the directory is left behind.
func startChromium(t *testing.T) *chromium {
	t.Helper()
	requireChromium(t)
	tr := startTrap(t)
	home := t.TempDir() // removed after Chromium is gone: cleanups run last-in first-out

	var out lockedBuffer
	var args []string
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumBinary),
		chromedp.NoInheritEnv, // the test's environment holds the INUBIT password
		chromedp.Env("HOME="+home, "PATH=/usr/bin:/bin", "LANG=C.UTF-8"),
		chromedp.CombinedOutput(&out),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			args = cmd.Args
			// If the test binary dies, Chromium goes with it.
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		}),
	}
	for _, f := range confinedFlags(tr.srv.Listener.Addr().String()) {
		opts = append(opts, chromedp.Flag(f.name, f.value))
	}
	// No user-data-dir flag: chromedp then creates a fresh empty profile
	// directory, and removes it after killing every process that uses it.
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, tabCancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Cancel closes the browser through DevTools and waits until
		// its processes are gone and the profile removed, up to the
		// deadline; the cancel funcs then kill whatever is left.
		closeCtx, cancel := context.WithTimeout(tab, closeWait)
		defer cancel()
		err := chromedp.Cancel(closeCtx)
		tabCancel()
		allocCancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("closing Chromium: %v\nChromium said:\n%s", err, tail(out.String()))
		}
		checkGone(t, args)
	})

	// The first action starts the browser, which lives as long as the
	// context it is given: the tab's, not one with a deadline. A timer
	// bounds the start instead.
	timer := time.AfterFunc(launchWait, tabCancel)
	err := chromedp.Do(tab, chromedp.Navigate("about:blank"))
	if !timer.Stop() {
		t.Fatalf("Chromium did not start within %s\nChromium said:\n%s", launchWait, tail(out.String()))
	}
	require.NoError(t, err, "starting %s\nChromium said:\n%s", chromiumBinary, tail(out.String()))
	return &chromium{tab: tab, trap: tr}
}

// tail returns the last lines of Chromium's output for a failure
// message; what comes before is mostly complaints about a missing D-Bus.
func tail(s string) string {
	const keep = 30
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > keep {
		lines = append([]string{"[…]"}, lines[len(lines)-keep:]...)
	}
	return strings.Join(lines, "\n")
}

// flag is one Chromium command-line switch; a bool value true means a
// switch without value.
type flag struct {
	name  string
	value any
}

// confinedFlags are Chromium's switches: headless, no sandbox (we run as
// root), and every background service off. Two rules keep whatever is
// left on loopback:
//
//   - all requests go to the trap proxy at trapAddr, except those for
//     loopback hosts, which Chromium never sends through a proxy;
//   - every host name fails to resolve (the rule leaves the address
//     127.0.0.1 alone), so not even a DNS query leaves the machine.
//
// DevTools talks to Chromium over a pipe, so it opens no port either.
func confinedFlags(trapAddr string) []flag {
	return []flag{
		{"headless", true},
		{"no-sandbox", true},
		{"disable-gpu", true},
		{"disable-quic", true},
		{"no-first-run", true},
		{"no-default-browser-check", true},
		{"disable-background-networking", true},
		{"disable-component-update", true},
		{"disable-sync", true},
		{"disable-default-apps", true},
		{"disable-extensions", true},
		{"disable-breakpad", true},
		{"disable-client-side-phishing-detection", true},
		{"disable-domain-reliability", true},
		{"no-pings", true},
		{"metrics-recording-only", true},
		{"safebrowsing-disable-auto-update", true},
		{"disable-features", "NetworkTimeServiceQuerying,Translate,OptimizationHints," +
			"MediaRouter,AutofillServerCommunication"},
		{"password-store", "basic"},
		{"use-mock-keychain", true},
		{"disable-dev-shm-usage", true},
		{"mute-audio", true},
		{"proxy-server", "http://" + trapAddr},
		{"host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"},
	}
}

// checkGone fails the test if the profile directory named in Chromium's
// command line args still exists or a process still uses it.
func checkGone(t *testing.T, args []string) {
	t.Helper()
	if args == nil {
		return // Chromium never started
	}
	var dir string
	for _, a := range args {
		if d, ok := strings.CutPrefix(a, "--user-data-dir="); ok {
			dir = d
		}
	}
	require.NotEmpty(t, dir, "no profile directory in Chromium's command line %q", args)
	_, err := os.Stat(dir)
	assert.True(t, errors.Is(err, os.ErrNotExist), "Chromium's profile %s is left behind", dir)
	assert.Empty(t, processesUsing("--user-data-dir="+dir), "Chromium processes left running")
}

// processesUsing returns the IDs of processes with arg on their command
// line.
func processesUsing(arg string) []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []string
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || e.Name() == fmt.Sprint(os.Getpid()) {
			continue
		}
		for _, a := range bytes.Split(cmdline, []byte{0}) {
			if string(a) == arg {
				pids = append(pids, e.Name())
				break
			}
		}
	}
	return pids
}

// lockedBuffer collects Chromium's output for failure messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
