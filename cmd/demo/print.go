package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// printStack shows where everything listens.
func printStack(out io.Writer, st *stack) {
	fmt.Fprintln(out, "inubit_sessions demo, all on the loopback interface:")
	fmt.Fprintf(out, "  fake INUBIT   %s  (profile %s, service account %s)\n",
		st.fakeURL, st.inubit.Profile(), serviceAccount)
	fmt.Fprintf(out, "  demo web app  %s\n", st.appURL)
	fmt.Fprintf(out, "  Caddy         %s  (inubit_sessions: idle_timeout %s, separator %s)\n",
		st.baseURL, shortDuration(st.opts.idle), st.opts.separator)
}

// print writes one numbered step of the scripted user.
func (b *browser) print(label string, status int, detail string) {
	b.step++
	fmt.Fprintf(b.out, "  %d. %-27s %d  %s\n", b.step, label, status, detail)
}

// printID writes an entry ID under the step that showed it.
func (b *browser) printID(what, id string) {
	fmt.Fprintf(b.out, "     %-27s      %s\n", "", what+" "+id)
}

// printClearResult shows every clear call that arrived and the verdict.
func printClearResult(out io.Writer, res *clearResult, limit time.Duration) {
	if len(res.calls) == 0 {
		fmt.Fprintf(out, "\nNo clear call reached INUBIT within %s.\n", limit)
	}
	for i, c := range res.calls {
		fmt.Fprintf(out, "\nClear call %d received by INUBIT:\n", i+1)
		printCall(out, c)
	}
	if res.err != nil && len(res.calls) > 0 {
		fmt.Fprintf(out, "\nStopped waiting after %s: %v\n",
			res.waited.Round(time.Millisecond), res.err)
	}
	if res.ok() {
		fmt.Fprintf(out, "\nIDs cleared for %s = IDs opened: yes (%d entries)\n",
			res.user, len(res.opened))
		return
	}
	fmt.Fprintf(out, "\nIDs cleared for %s = IDs opened: NO\n", res.user)
	for _, id := range missing(res.opened, res.cleared) {
		fmt.Fprintf(out, "  opened, not cleared: %s\n", id)
	}
	for _, id := range missing(res.cleared, res.opened) {
		fmt.Fprintf(out, "  cleared, not opened: %s\n", id)
	}
}

// printCall shows one clear call as INUBIT saw it, credentials hidden.
func printCall(out io.Writer, c fakeinubit.ClearCall) {
	target := fakeinubit.ClearPath
	if c.RawQuery != "" {
		target += "?" + c.RawQuery
	}
	fmt.Fprintf(out, "  %s %s\n", c.Method, target)
	fmt.Fprintf(out, "  Content-Type:  %s\n", orNone(c.ContentType))
	fmt.Fprintf(out, "  Accept:        %s\n", orNone(c.Accept))
	fmt.Fprintf(out, "  Authorization: %s\n", authSummary(c))
	fmt.Fprintf(out, "  Body (%s):\n", bodySummary(c))
	if c.Body == "" {
		fmt.Fprintln(out, "    (empty)")
	}
	for line := range strings.SplitSeq(c.Body, "\n") {
		if c.Body != "" {
			fmt.Fprintf(out, "    | %s\n", line)
		}
	}
	fmt.Fprintf(out, "  INUBIT answered: %d %s\n", c.Status, http.StatusText(c.Status))
}

// authSummary describes the credentials of a call without showing them.
func authSummary(c fakeinubit.ClearCall) string {
	switch {
	case c.AuthPresented && c.AuthOK:
		return fmt.Sprintf("Basic <redacted> (user %s, accepted)", c.AuthUser)
	case c.AuthPresented:
		return fmt.Sprintf("Basic <redacted> (user %s, REJECTED)", c.AuthUser)
	case c.Header.Get("Authorization") != "":
		return "<redacted> (not Basic)"
	}
	return "(none)"
}

// printBrowserHint invites the reader to try the portal by hand.
func printBrowserHint(out io.Writer, baseURL, admin string) {
	fmt.Fprintf(out, "\nTry it in a browser: %s/ — log in, open forms, log out.\n", baseURL)
	if admin != "" {
		fmt.Fprintf(out, "Metrics: http://%[1]s/metrics   Status: http://%[1]s/inubit_sessions/status\n", admin)
	}
	fmt.Fprintln(out, "Every clear call INUBIT receives is printed here; Ctrl-C to stop.")
}

// bodySummary counts the bytes and IDs of a clear call's body and names
// the separator, which only a body of two or more IDs shows.
func bodySummary(c fakeinubit.ClearCall) string {
	switch len(c.IDs) {
	case 0:
		return fmt.Sprintf("%d bytes, no IDs", len(c.Body))
	case 1:
		return fmt.Sprintf("%d bytes, 1 ID", len(c.Body))
	}
	sep := "comma"
	if c.Separator == "\n" {
		sep = "newline"
	}
	return fmt.Sprintf("%d bytes, %d IDs, %s separated", len(c.Body), len(c.IDs), sep)
}

// orNone shows an empty header value visibly.
func orNone(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}
