package inubitsessions

import (
	"sync/atomic"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// The counters below live in the state, which survives config reloads,
// so the metrics built from them stay monotonic across reloads. Every
// label value comes from a fixed list: nothing a client sends can add a
// series. Refused inputs are counted in refusals.go and by the tracker.

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

// endReasons are the values of the reason label, but for reasonOther.
var endReasons = [...]sessiontracker.Reason{
	sessiontracker.ReasonLogout, sessiontracker.ReasonCookieDeleted, sessiontracker.ReasonIdle,
	sessiontracker.ReasonMaxLifetime, sessiontracker.ReasonEvicted,
}

// reasonOther counts ends under a reason this list does not know yet.
const reasonOther = "other"

// refusedIDsPerSession is the kind label of the IDs that the tracker
// refused because their session held max_ids_per_session already.
const refusedIDsPerSession = "ids_per_session"

// counters are the state's event counts that neither the refusals nor
// the tracker keep.
type counters struct {
	collected [sourceCount]atomic.Uint64
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

// countsByName reads the state's counters.
func (st *state) countsByName() countsByName {
	out := countsByName{
		Collected: make(map[string]uint64, len(sourceNames)),
		Ended:     make(map[string]uint64, len(endReasons)+1),
		Refused:   make(map[string]uint64, len(refusalNames)+1),
	}
	for i, name := range sourceNames {
		out.Collected[name] = st.counts.collected[i].Load()
	}
	for i, reason := range endReasons {
		out.Ended[string(reason)] = st.counts.ended[i].Load()
	}
	out.Ended[reasonOther] = st.counts.ended[len(endReasons)].Load()
	for kind, n := range st.refused.counts() {
		out.Refused[kind] = uint64(max(n, 0))
	}
	out.Refused[refusedIDsPerSession] = uint64(max(st.tracker.Counts().RefusedIDs, 0))
	return out
}
