// Command demo shows the inubit_sessions Caddy handler at work, all on
// the loopback interface and without a real INUBIT server:
//
//	go run ./cmd/demo [flags]
//
// It starts a fake INUBIT (package fakeinubit), a small portal web app
// (package demoapp) and Caddy in-process with inubit_sessions in front
// of both. A scripted user then logs in through Caddy, opens three forms,
// submits one, validates another and logs out; the demo prints the
// clear call the fake INUBIT received for that logout and checks that it
// names exactly the entries the user opened. Unless -once is given, it
// keeps serving afterwards so the portal can be tried in a browser, and
// prints every further clear call until interrupted.
//
// Flags:
//
//	-listen 127.0.0.1:8080   Caddy's address; a loopback IP, port 0 picks a free one
//	-profile 9xml            INUBIT generation to imitate: 8, 9xml or 9json
//	-idle 30m                idle_timeout of the handler
//	-separator newline       separator of the handler: newline or comma
//	-once                    stop after the scripted user instead of serving on
//	-admin 127.0.0.1:2019    turn Caddy's admin endpoint on there (loopback only), for
//	                         /metrics and the /inubit_sessions/ admin API; default off
//
// The service account's password is taken from INUBIT_PASSWORD when set,
// else made up at random; either way the Caddyfile names only the
// placeholder {env.INUBIT_PASSWORD}. The exit status is non-zero when the
// clear call does not arrive or names other entries than were opened.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// clearWait bounds the wait for the clear call after the scripted logout.
const clearWait = 15 * time.Second

// options are the demo's settings, taken from the command line.
type options struct {
	listen    string
	profile   fakeinubit.Profile
	idle      time.Duration
	separator string
	once      bool
	admin     string // Caddy's admin address; "" keeps it off
}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		stop()
		os.Exit(1)
	}
}

// parseFlags reads the command line into options and checks them.
func parseFlags(args []string, errOut io.Writer) (options, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(errOut)
	listen := fs.String("listen", "127.0.0.1:8080",
		"Caddy's listen address, a loopback IP and port (port 0 picks a free one)")
	profile := fs.String("profile", "9xml", "INUBIT generation to imitate: 8, 9xml or 9json")
	idle := fs.Duration("idle", 30*time.Minute, "idle_timeout of inubit_sessions")
	separator := fs.String("separator", "newline", "separator of inubit_sessions: newline or comma")
	once := fs.Bool("once", false, "exit after the scripted user instead of serving on")
	admin := fs.String("admin", "",
		"turn Caddy's admin endpoint on at this loopback IP and port, for /metrics and /inubit_sessions/status")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	opts := options{listen: *listen, idle: *idle, separator: *separator, once: *once, admin: *admin}
	switch *profile {
	case "8":
		opts.profile = fakeinubit.Profile8
	case "9xml":
		opts.profile = fakeinubit.Profile9XML
	case "9json":
		opts.profile = fakeinubit.Profile9JSON
	default:
		return options{}, fmt.Errorf("-profile: %q is not 8, 9xml or 9json", *profile)
	}
	if opts.separator != "newline" && opts.separator != "comma" {
		return options{}, fmt.Errorf("-separator: %q is not newline or comma", opts.separator)
	}
	if opts.idle <= 0 {
		return options{}, fmt.Errorf("-idle: must be positive, got %s", opts.idle)
	}
	if err := checkListen(opts.listen); err != nil {
		return options{}, fmt.Errorf("-listen: %w", err)
	}
	if opts.admin != "" {
		if err := checkListen(opts.admin); err != nil {
			return options{}, fmt.Errorf("-admin: %w", err)
		}
	}
	return opts, nil
}

// checkListen accepts host:port with a loopback IP as host, so that the
// demo is never reachable from another machine.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %v", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: host must be a loopback IP such as 127.0.0.1", addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%q: bad port: %v", addr, err)
	}
	return nil
}

// run starts the stack, plays the scripted user and reports the clear
// call; then, unless opts.once, serves until ctx ends.
func run(ctx context.Context, opts options, out io.Writer) error {
	st, err := startStack(opts)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.close(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stopping:", err)
		}
	}()
	printStack(out, st)

	opened, err := playUser(ctx, st.baseURL, "alice", out)
	if err != nil {
		return fmt.Errorf("scripted user: %w", err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, clearWait)
	res := awaitClear(waitCtx, st.inubit, "alice", opened)
	cancel()
	printClearResult(out, res, clearWait)
	if !res.ok() {
		return errors.New("the clear call did not name exactly the entries the user opened")
	}
	if opts.once {
		return nil
	}

	printBrowserHint(out, st.baseURL, st.opts.admin)
	watchClears(ctx, st.inubit, len(st.inubit.Calls()), out)
	fmt.Fprintln(out, "\nstopping")
	return nil
}
