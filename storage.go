package inubitsessions

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// chooseDefaultStorage picks the storage directory of a handler that
// configures none. On a reload it is the running config's default
// storage, so sessions and queue carry over even to a new endpoint;
// otherwise it is one directory per endpoint under Caddy's data
// directory, so that Caddy processes and sites talking to different
// INUBIT servers never share, or lock each other out of, a queue.
func chooseDefaultStorage(config <-chan struct{}, endpoint string) string {
	if dir := runningDefaultStorage(config, endpoint); dir != "" {
		return dir
	}
	return endpointStorage(endpoint)
}

// endpointStorage is the default directory for one endpoint.
func endpointStorage(endpoint string) string {
	sum := sha256.Sum256([]byte(endpoint))
	host := "endpoint"
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		host = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
				return r
			}
			return '_'
		}, u.Host)
	}
	return filepath.Join(caddy.AppDataDir(), "inubit_sessions", host+"-"+hex.EncodeToString(sum[:4]))
}

// runningDefaultStorage returns the default storage of a state that an
// earlier config (not this one) uses: the one with the same endpoint,
// else the only one. It returns "" on a fresh start.
func runningDefaultStorage(config <-chan struct{}, endpoint string) string {
	var candidates []*state
	states.Range(func(_, value any) bool {
		st := value.(*state)
		if st.isDefault && st.usedOnlyByOthers(config) {
			candidates = append(candidates, st)
		}
		return true
	})
	for _, st := range candidates {
		if st.cleaner.Endpoint() == endpoint {
			return st.dir
		}
	}
	if len(candidates) == 1 {
		return candidates[0].dir
	}
	return ""
}
