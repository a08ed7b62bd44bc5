package faulttest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// caddyProc is one Caddy process, restartable on the same ports and
// storage. Its methods are safe for concurrent use.
type caddyProc struct {
	site    site
	dir     string
	logPath string
	env     []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	runs int
}

// newCaddy prepares a Caddy for s with INUBIT_PASSWORD set to password;
// when the test ends it is killed, and on failure its log is printed.
func newCaddy(t *testing.T, s site, password string) *caddyProc {
	t.Helper()
	requireBinary(t)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	require.NoError(t, os.MkdirAll(home, 0o700))
	c := &caddyProc{
		site:    s,
		dir:     dir,
		logPath: filepath.Join(dir, "caddy.log"),
		env: []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + home,
			"XDG_DATA_HOME=" + filepath.Join(home, "data"),
			"XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
			"INUBIT_PASSWORD=" + password,
		},
	}
	t.Cleanup(func() {
		c.kill()
		if strings.Contains(c.log(), "WARNING: DATA RACE") {
			t.Error("Caddy (built with FAULTTEST_CADDY_RACE=1) reported a data race; see its log")
		}
		if t.Failed() {
			t.Logf("Caddy log, last 150 lines (whole log kept in %s):\n%s",
				c.keepLog(t), c.logTail(150))
		}
	})
	return c
}

// start runs Caddy with the site's config and waits until it serves.
func (c *caddyProc) start() error {
	cfgPath := filepath.Join(c.dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(c.caddyfile()), 0o600); err != nil {
		return err
	}
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()

	c.mu.Lock()
	if c.done != nil {
		select {
		case <-c.done:
		default:
			c.mu.Unlock()
			return errors.New("caddy is already running")
		}
	}
	c.runs++
	fmt.Fprintf(logFile, "==== faulttest: start #%d at %s\n",
		c.runs, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(caddyBin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Dir = c.dir
	cmd.Env = c.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the test binary dies, its Caddy goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.mu.Unlock()
		return fmt.Errorf("starting caddy: %w", err)
	}
	done := make(chan struct{})
	c.cmd, c.done = cmd, done
	c.mu.Unlock()
	go func() {
		_ = cmd.Wait() // the log tells why it ended
		close(done)
	}()
	return c.waitReady(done, 15*time.Second)
}

func (c *caddyProc) mustStart(t *testing.T) {
	t.Helper()
	require.NoError(t, c.start(), "starting Caddy")
}

// waitReady polls the site with a request that creates no session
// until any HTTP answer comes back.
func (c *caddyProc) waitReady(done <-chan struct{}, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	url := fmt.Sprintf("http://127.0.0.1:%d/faulttest-ready", c.site.httpPort)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("caddy exited before it served; see its log")
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("caddy did not serve within %s", timeout)
}

// signal sends sig and waits up to timeout for Caddy to exit; it returns
// how long the exit took. After the timeout Caddy is killed.
func (c *caddyProc) signal(sig syscall.Signal, timeout time.Duration) (time.Duration, error) {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return 0, errors.New("caddy was never started")
	}
	start := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		return 0, fmt.Errorf("sending %v: %w", sig, err)
	}
	select {
	case <-done:
		return time.Since(start), nil
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return time.Since(start), fmt.Errorf("caddy did not exit within %s of %v", timeout, sig)
	}
}

// kill ends Caddy with SIGKILL if it runs, and waits for it.
func (c *caddyProc) kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Kill()
	<-done
}

// reload posts the site's current config to the admin API; force makes
// Caddy apply it even if it equals the running one, as `caddy reload
// --force` does.
func (c *caddyProc) reload(force bool) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/load", c.site.adminPort)
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(c.caddyfile()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	if force {
		req.Header.Set("Cache-Control", "must-revalidate")
	}
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("load: %s: %s", resp.Status, body)
	}
	return nil
}

// caddyfile renders the current config.
func (c *caddyProc) caddyfile() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.site.caddyfile()
}

// change edits the config used by the next start or reload.
func (c *caddyProc) change(edit func(*site)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	edit(&c.site)
}

// log returns everything Caddy wrote so far.
func (c *caddyProc) log() string {
	data, _ := os.ReadFile(c.logPath)
	return string(data)
}

// keepLog copies the log out of the test's temporary directory, which
// is removed, and returns the copy's path.
func (c *caddyProc) keepLog(t *testing.T) string {
	f, err := os.CreateTemp("", "faulttest-"+strings.ReplaceAll(t.Name(), "/", "_")+"-*.log")
	if err != nil {
		return c.logPath + " (not kept: " + err.Error() + ")"
	}
	defer f.Close()
	_, _ = f.WriteString(c.log())
	return f.Name()
}

func (c *caddyProc) logTail(n int) string {
	lines := strings.Split(strings.TrimRight(c.log(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitLog waits up to timeout until Caddy's log holds want.
func (c *caddyProc) waitLog(want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(c.log(), want) {
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("caddy's log did not show %q within %s", want, timeout)
}
