package sessiontracker

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Keys are stored with the sessions: the Hasher must give exactly the
// truncated HMAC-SHA256 that earlier releases stored, for every length
// of secret and value, or a restart after an upgrade would lose track
// of every live session.
func TestHasherKeyIsHMACSHA256(t *testing.T) {
	secrets := [][]byte{
		[]byte("short"),
		[]byte(strings.Repeat("k", 32)),
		[]byte(strings.Repeat("b", sha256.BlockSize)),
		[]byte(strings.Repeat("L", sha256.BlockSize+1)), // hashed first, as RFC 2104 says
	}
	values := []string{"", "A", "ABC123.node0", strings.Repeat("v", 55), strings.Repeat("v", 56),
		strings.Repeat("v", stackValue), strings.Repeat("w", stackValue+1), strings.Repeat("x", 4000)}
	for _, secret := range secrets {
		h := NewHasher(secret)
		for _, v := range values {
			mac := hmac.New(sha256.New, secret)
			mac.Write([]byte(v))
			var want Key
			copy(want[:], mac.Sum(nil))
			assert.Equal(t, want, h.Key(v), "secret of %d bytes, value of %d bytes", len(secret), len(v))
		}
	}
}

// Computing a Key allocates nothing; only an empty pool makes a new
// scratch (which the race detector's pool does at random, so the check
// runs on one scratch).
func TestHasherKeyDoesNotAllocate(t *testing.T) {
	h := NewHasher([]byte(strings.Repeat("k", 32)))
	s := h.pool.New().(*keyScratch)
	allocs := testing.AllocsPerRun(100, func() { _ = h.keyWith(s, "8D0E6C4F2B3A19E7D5C3B1A0F9E8D7C6") })
	assert.Zero(t, allocs)
}

func BenchmarkHasherKey(b *testing.B) {
	h := NewHasher([]byte(strings.Repeat("k", 32)))
	for b.Loop() {
		_ = h.Key("8D0E6C4F2B3A19E7D5C3B1A0F9E8D7C6")
	}
}

// The scratch a Key is computed in goes back to a pool: it must hold no
// part of the cookie value afterwards (the value is a credential).
func TestHasherScratchKeepsNoCookieValue(t *testing.T) {
	h := NewHasher([]byte(strings.Repeat("k", 32)))
	s := h.pool.New().(*keyScratch)
	const value = "SECRETCOOKIEVALUE-0123456789abcdefghijklmnopqrstuvwxyz-TAIL"
	h.keyWith(s, value)
	inner, err := s.inner.(encoding.BinaryMarshaler).MarshalBinary()
	assert.NoError(t, err)
	outer, err := s.outer.(encoding.BinaryMarshaler).MarshalBinary()
	assert.NoError(t, err)
	for _, part := range []string{"SECRET", "TAIL", "xyz"} {
		assert.NotContains(t, string(s.value[:]), part)
		assert.NotContains(t, string(inner), part)
		assert.NotContains(t, string(outer), part)
	}
}
