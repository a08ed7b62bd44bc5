package sessiontracker

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
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
	secret []byte
	// innerState and outerState are SHA-256 states that have absorbed
	// the secret XOR ipad and XOR opad (RFC 2104), so that each Key only
	// hashes the value and the inner sum.
	innerState, outerState []byte
	pool                   sync.Pool // of *keyScratch
}

// keyScratch is one goroutine's working set for a Key: two SHA-256
// states and buffers, reused so that Key does not allocate.
type keyScratch struct {
	inner, outer hash.Hash
	value        [stackValue]byte
	sum          [sha256.Size]byte
}

// stackValue is the longest cookie value hashed without allocating; a
// longer one (only possible when max_cookie_length allows it) takes
// crypto/hmac's general path.
const stackValue = 512

// NewHasher returns a Hasher keyed with secret, which should be at least
// 32 random bytes and must stay the same for as long as Keys derived from
// it are kept.
func NewHasher(secret []byte) *Hasher {
	h := &Hasher{secret: append([]byte(nil), secret...)}
	key := h.secret
	if len(key) > sha256.BlockSize {
		sum := sha256.Sum256(key)
		key = sum[:]
	}
	var ipad, opad [sha256.BlockSize]byte
	copy(ipad[:], key)
	copy(opad[:], key)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	h.innerState = absorbed(ipad[:])
	h.outerState = absorbed(opad[:])
	h.pool.New = func() any { return &keyScratch{inner: sha256.New(), outer: sha256.New()} }
	return h
}

// absorbed returns the marshaled state of SHA-256 after block.
func absorbed(block []byte) []byte {
	d := sha256.New()
	d.Write(block)
	state, err := d.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic("sha256 state cannot be saved: " + err.Error()) // never: crypto/sha256 supports it
	}
	return state
}

// Key returns the Key of one cookie value: HMAC-SHA256 truncated to 16
// bytes. The request path calls it once or twice per request; it does
// not allocate.
func (h *Hasher) Key(cookieValue string) Key {
	var k Key
	if len(cookieValue) > stackValue {
		mac := hmac.New(sha256.New, h.secret)
		mac.Write([]byte(cookieValue))
		copy(k[:], mac.Sum(nil))
		return k
	}
	s := h.pool.Get().(*keyScratch)
	k = h.keyWith(s, cookieValue)
	h.pool.Put(s)
	return k
}

// keyWith computes a Key in s and leaves no trace of the value in it:
// pooled scratch must not keep a cookie value after Key returns.
func (h *Hasher) keyWith(s *keyScratch, cookieValue string) Key {
	var k Key
	n := copy(s.value[:], cookieValue)
	restore(s.inner, h.innerState)
	s.inner.Write(s.value[:n])
	innerSum := s.inner.Sum(s.sum[:0])
	restore(s.outer, h.outerState)
	s.outer.Write(innerSum)
	copy(k[:], s.outer.Sum(s.sum[:0]))
	clear(s.value[:n])
	clear(s.sum[:])
	restore(s.inner, h.innerState) // its buffer held the value's last block
	return k
}

// restore puts d back into a state that absorbed saved.
func restore(d hash.Hash, saved []byte) {
	if err := d.(encoding.BinaryUnmarshaler).UnmarshalBinary(saved); err != nil {
		panic("sha256 state cannot be restored: " + err.Error()) // never: it came from MarshalBinary
	}
}
