package inubitsessions

import (
	"context"
	"hash/maphash"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// A connection remembers the Key of the cookie value it sent last and
// hands it out again only for that value (all 128 bits of the
// fingerprint) under the same hasher; anything else is computed.
func TestConnectionRemembersItsLastCookieKey(t *testing.T) {
	h := testHandler()
	h.state.hasher = sessiontracker.NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	other := sessiontracker.NewHasher([]byte("fedcba9876543210fedcba9876543210"))
	keys := new(connKeys)
	request := func(cookie string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/page", nil)
		r.Header.Set("Cookie", "JSESSIONID="+cookie)
		return r.WithContext(context.WithValue(r.Context(), connKeysCtxKey{}, keys))
	}
	key := func(cookie string) sessiontracker.Key {
		k, ok := h.sessionKey(request(cookie))
		require.True(t, ok)
		return k
	}

	assert.Equal(t, h.state.hasher.Key("A1"), key("A1"))
	require.NotNil(t, keys.last.hasher, "the connection remembers it")
	assert.Equal(t, h.state.hasher.Key("A2"), key("A2"), "another value is computed")
	assert.Equal(t, h.state.hasher.Key("A2"), keys.last.key)

	// What is remembered is what is handed out: plant a marker.
	a, b := maphash.String(connSeedA, "A3"), maphash.String(connSeedB, "A3")
	marker := h.state.hasher.Key("marker")
	keys.last = connKey{hasher: h.state.hasher, a: a, b: b, key: marker}
	assert.Equal(t, marker, key("A3"), "a remembered value is not hashed again")
	for name, planted := range map[string]connKey{
		"half the fingerprint": {hasher: h.state.hasher, a: a, b: b + 1, key: marker},
		"the other half":       {hasher: h.state.hasher, a: a + 1, b: b, key: marker},
		"another hasher":       {hasher: other, a: a, b: b, key: marker},
	} {
		keys.last = planted
		assert.Equal(t, h.state.hasher.Key("A3"), key("A3"), name)
	}

	// Without a connection's memory (no HTTP server): computed.
	r := httptest.NewRequest(http.MethodGet, "/page", nil)
	r.Header.Set("Cookie", "JSESSIONID=A4")
	k, ok := h.sessionKey(r)
	require.True(t, ok)
	assert.Equal(t, h.state.hasher.Key("A4"), k)
}

// Remembering costs no allocation, also when every request of a
// connection sends another value (the benchmark's cookie pool does).
func TestConnectionKeyMemoryDoesNotAllocate(t *testing.T) {
	h := testHandler()
	h.state.hasher = sessiontracker.NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	r := httptest.NewRequest(http.MethodGet, "/page", nil)
	r = r.WithContext(context.WithValue(r.Context(), connKeysCtxKey{}, new(connKeys)))
	values := []string{"V1", "V2", "V3"}
	i := 0
	perCall := allocsPerCall(1000, func() {
		i++
		_ = h.cookieKey(r, values[i%len(values)])
	})
	// A collection during the runs empties the hasher's pool now and then
	// (a few allocations per thousand calls). Under the race detector
	// sync.Pool also drops a quarter of what is put back, on purpose, and
	// the hasher makes its scratch (three allocations) again: 0.75 per call
	// on average, a few hundredths of spread over 1,000 calls. An
	// allocation of the memory itself adds one per call in either mode.
	limit := 0.1
	if raceDetector {
		limit = 1.25
	}
	assert.LessOrEqual(t, perCall, limit)
}

// allocsPerCall is testing.AllocsPerRun without its rounding down to a
// whole number: the mean number of heap allocations of one call of f.
func allocsPerCall(runs int, f func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f() // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(runs)
}
