package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// clearResult is what arrived at the fake INUBIT after the scripted
// logout.
type clearResult struct {
	user    string
	opened  []string
	calls   []fakeinubit.ClearCall
	cleared []string // IDs of the calls for user that INUBIT accepted
	waited  time.Duration
	err     error // set when the wait ended before the IDs were cleared
}

// ok reports whether INUBIT accepted clears of exactly the opened IDs.
func (r *clearResult) ok() bool {
	return len(r.opened) > 0 && sameSet(r.cleared, r.opened)
}

// awaitClear waits until the accepted clear calls for user name every ID
// in opened, or ctx ends.
func awaitClear(ctx context.Context, fake *fakeinubit.Server, user string,
	opened []string,
) *clearResult {
	res := &clearResult{user: user, opened: opened}
	start := time.Now()
	res.err = fake.WaitForClear(ctx, func(calls []fakeinubit.ClearCall) bool {
		res.calls = calls
		res.cleared = acceptedIDs(calls, user)
		return covers(res.cleared, opened)
	})
	res.waited = time.Since(start)
	return res
}

// watchClears prints every clear call after the first seen ones as it
// arrives, until ctx ends.
func watchClears(ctx context.Context, inubit *fakeinubit.Server, seen int, out io.Writer) {
	for {
		changed := inubit.Changed()
		calls := inubit.Calls()
		if len(calls) < seen {
			seen = 0 // the fake was reset
		}
		for i, c := range calls[seen:] {
			fmt.Fprintf(out, "\nClear call %d received by INUBIT at %s:\n",
				seen+i+1, c.Time.Format(time.TimeOnly))
			printCall(out, c)
			fmt.Fprintf(out, "  Entries still open in INUBIT: %d\n", len(inubit.Open()))
		}
		seen = len(calls)
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// acceptedIDs collects the IDs of the calls for user answered with 200.
func acceptedIDs(calls []fakeinubit.ClearCall, user string) []string {
	var ids []string
	for _, c := range calls {
		if c.Status == http.StatusOK && slices.Equal(c.Users, []string{user}) {
			ids = append(ids, c.IDs...)
		}
	}
	return ids
}

// covers reports whether every ID of want is in have.
func covers(have, want []string) bool {
	return len(missing(want, have)) == 0
}

// sameSet reports whether a and b hold the same IDs, ignoring order and
// repeats.
func sameSet(a, b []string) bool {
	return covers(a, b) && covers(b, a)
}

// missing returns the IDs of a that b lacks, each once.
func missing(a, b []string) []string {
	var out []string
	for _, id := range a {
		if !slices.Contains(b, id) && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
