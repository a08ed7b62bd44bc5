package inubitsessions

import (
	"sync/atomic"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// The counters below live in the state, which survives config reloads,
// so the metrics built from them stay monotonic across reloads. Every
// label value comes from a fixed list in this file: nothing a client
// sends can add a series.

// idSource says where in the traffic an entry ID was found.
type idSource int

const (
	sourceHeader       idSource = iota // an id_header request header
	sourceHelpParams                   // the params query value of …/rest/task/help
	sourceCookie                       // a request cookie
	sourceResponseBody                 // a scanned response body
	sourceCount
)

// sourceNames are the values of the source label.
var sourceNames = [sourceCount]string{"header", "help_params", "cookie", "response_body"}

// refusal is a kind of input the handler refused, or saw but could not
// use. The bounds on sessions, cookies, IDs and scanned bytes count
// their refusals here through state.refused.
type refusal int

const (
	refusedCookieTooLong refusal = iota // a session cookie value over its length bound; per request
	refusedIDTooLong                    // an entry ID candidate over its length bound; per ID
	refusedUserInvalid                  // a user placeholder gave a name that validUser refuses; per value
	refusedIDsPerSession                // an ID beyond a session's bound on IDs; per ID
	refusedSessionsFull                 // a new session while the most sessions are tracked; per session
	refusedScanLimit                    // a response body scanned only up to its byte bound; per response
	refusedMalformed                    // an input that is not what its place requires; per input
	refusedUntracked                    // an ID on a request with no session cookie either way; per ID
	refusedCompressed                   // a text response in br or zstd passed unscanned; per response
	refusalCount
)

// refusalNames are the values of the kind label.
var refusalNames = [refusalCount]string{
	"cookie_too_long", "id_too_long", "user_invalid", "ids_per_session", "sessions_full",
	"scan_limit", "malformed", "untracked", "compressed",
}

// reasonEvicted is the end of a session pushed out by the bound on
// sessions tracked.
// TODO: use sessiontracker.ReasonEvicted once the bounds work adds it.
const reasonEvicted sessiontracker.Reason = "evicted"

// endReasons are the values of the reason label, but for reasonOther.
var endReasons = [...]sessiontracker.Reason{
	sessiontracker.ReasonLogout, sessiontracker.ReasonCookieDeleted, sessiontracker.ReasonIdle,
	sessiontracker.ReasonMaxLifetime, reasonEvicted,
}

// reasonOther counts ends under a reason this list does not know yet.
const reasonOther = "other"

// counters are the state's event counts.
type counters struct {
	collected [sourceCount]atomic.Uint64
	refused   [refusalCount]atomic.Uint64
	ended     [len(endReasons) + 1]atomic.Uint64 // the last one counts reasonOther
}

// found counts n entry IDs found at src. A nil state counts nothing, for
// handlers in tests that run without one.
func (st *state) found(src idSource, n int) {
	if st == nil || n <= 0 {
		return
	}
	st.counts.collected[src].Add(uint64(n))
}

// refused counts n refused inputs of one kind.
func (st *state) refused(kind refusal, n int) {
	if st == nil || n <= 0 {
		return
	}
	st.counts.refused[kind].Add(uint64(n))
}

// countEnded counts a session end.
func (st *state) countEnded(reason sessiontracker.Reason) {
	for i, r := range endReasons {
		if r == reason {
			st.counts.ended[i].Add(1)
			return
		}
	}
	st.counts.ended[len(endReasons)].Add(1)
}

// countsByName are the counters with their label values, for the
// metrics and the admin API.
type countsByName struct {
	// Collected counts entry IDs found, by source.
	Collected map[string]uint64 `json:"ids_collected"`
	// Ended counts sessions ended, by reason.
	Ended map[string]uint64 `json:"sessions_ended"`
	// Refused counts inputs refused or passed over, by kind.
	Refused map[string]uint64 `json:"inputs_refused"`
}

// byName reads the counters.
func (c *counters) byName() countsByName {
	out := countsByName{
		Collected: make(map[string]uint64, len(sourceNames)),
		Ended:     make(map[string]uint64, len(endReasons)+1),
		Refused:   make(map[string]uint64, len(refusalNames)),
	}
	for i, name := range sourceNames {
		out.Collected[name] = c.collected[i].Load()
	}
	for i, reason := range endReasons {
		out.Ended[string(reason)] = c.ended[i].Load()
	}
	out.Ended[reasonOther] = c.ended[len(endReasons)].Load()
	for i, name := range refusalNames {
		out.Refused[name] = c.refused[i].Load()
	}
	return out
}
