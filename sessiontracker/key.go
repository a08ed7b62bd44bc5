package sessiontracker

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
)

// Key identifies a browser session without revealing its cookie value:
// it is a truncated HMAC-SHA256 of the value under a secret key, so it
// can be logged, kept in memory and stored without exposing the session.
type Key [16]byte

// String returns the key in hexadecimal, safe for logs.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// Short returns the first eight hex digits, enough to follow one session
// through a log.
func (k Key) Short() string { return hex.EncodeToString(k[:4]) }

// Hasher turns session-cookie values into Keys. It is safe for
// concurrent use.
type Hasher struct {
	pool sync.Pool
}

// NewHasher returns a Hasher keyed with secret, which should be at least
// 32 random bytes and must stay the same for as long as Keys derived from
// it are kept.
func NewHasher(secret []byte) *Hasher {
	secret = append([]byte(nil), secret...)
	return &Hasher{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}}
}

// Key returns the Key of one cookie value.
func (h *Hasher) Key(cookieValue string) Key {
	mac := h.pool.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(cookieValue))
	var sum [sha256.Size]byte
	var k Key
	copy(k[:], mac.Sum(sum[:0]))
	h.pool.Put(mac)
	return k
}
