package inubitsessions

import "sync/atomic"

// refusal is a kind of input the handler refused to act on. The request
// or response itself is always passed on untouched; only what the
// handler would have learned from it is dropped, and counted here.
type refusal int

const (
	refusedCookieTooLong  refusal = iota // session cookie value over max_cookie_length
	refusedCookieInvalid                 // session cookie value with bytes no cookie may hold
	refusedIDTooLong                     // entry ID over max_id_length
	refusedIDPath                        // entry ID whose path holds "..", a leading "/" or "//"
	refusedIDHeader                      // ID header whose value is not an entry ID
	refusedUser                          // user placeholder gave a name no account can have
	refusedScanLimit                     // response body longer than max_scan_bytes
	refusedBodyUnreadable                // compressed body that did not decompress
	refusedUntracked                     // IDs on a request without a session cookie
	refusedCompressed                    // text body in an encoding not scanned (br, zstd)
	refusedWithoutUser                   // ID without a user past max_ids_without_user
	refusalKinds
)

// refusalNames are the kinds as metrics and the admin API show them.
var refusalNames = [refusalKinds]string{
	refusedCookieTooLong:  "cookie_too_long",
	refusedCookieInvalid:  "cookie_invalid",
	refusedIDTooLong:      "id_too_long",
	refusedIDPath:         "id_path_invalid",
	refusedIDHeader:       "id_header_invalid",
	refusedUser:           "user_invalid",
	refusedScanLimit:      "scan_limit",
	refusedBodyUnreadable: "body_unreadable",
	refusedUntracked:      "id_without_session",
	refusedCompressed:     "body_not_scanned",
	refusedWithoutUser:    "id_without_user_over_limit",
}

// refusals counts refused inputs by kind.
type refusals [refusalKinds]atomic.Int64

func (r *refusals) add(kind refusal, n int) { r[kind].Add(int64(n)) }

// counts returns the totals by name.
func (r *refusals) counts() map[string]int64 {
	out := make(map[string]int64, refusalKinds)
	for kind := range refusalKinds {
		out[refusalNames[kind]] = r[kind].Load()
	}
	return out
}
