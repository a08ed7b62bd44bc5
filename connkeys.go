package inubitsessions

import (
	"context"
	"hash/maphash"
	"net"
	"net/http"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// A browser sends the same session cookie with every request on a
// connection, and the cookie's keyed hash (HMAC-SHA256) is the largest
// part of a tracked request's own cost. Each client connection
// therefore remembers the Key of the cookie value it last sent, found
// again by a 128-bit fingerprint of the value under two random
// per-process seeds: no cookie value is kept, and another value takes
// the Key only by matching all 128 bits. The memory lives in the
// connection's context, which the request path reads anyway, so a hit
// costs no cache miss (a process-wide table of recent Keys was tried:
// its cache misses cost as much as the HMAC saved).

// connKeysCtxKey is the context key of a connection's connKeys.
type connKeysCtxKey struct{}

// connKeys is one connection's last cookie Key. HTTP/2 streams of one
// connection run at once, hence the lock (uncontended on HTTP/1.1; a
// pointer swapped atomically would allocate on every change of value).
type connKeys struct {
	mu   sync.Mutex
	last connKey
}

// connKey is a cookie value's fingerprint and its Key under hasher.
type connKey struct {
	hasher *sessiontracker.Hasher // nil: none yet
	a, b   uint64
	key    sessiontracker.Key
}

var connSeedA, connSeedB = maphash.MakeSeed(), maphash.MakeSeed()

// rememberConnKeys gives every connection of the server that ctx
// provisions a connKeys; outside an HTTP server (a test, a bare
// handler) Keys are simply computed.
func rememberConnKeys(ctx caddy.Context) {
	srv, ok := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if !ok || srv == nil {
		return
	}
	srv.RegisterConnContext(func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, connKeysCtxKey{}, new(connKeys))
	})
}

// cookieKey returns the Key of a session-cookie value r carries,
// remembered by r's connection when it sent that value last.
func (h *Handler) cookieKey(r *http.Request, value string) sessiontracker.Key {
	hasher := h.state.hasher
	keys, _ := r.Context().Value(connKeysCtxKey{}).(*connKeys)
	if keys == nil {
		return hasher.Key(value)
	}
	a, b := maphash.String(connSeedA, value), maphash.String(connSeedB, value)
	keys.mu.Lock()
	last := keys.last
	keys.mu.Unlock()
	if last.hasher == hasher && last.a == a && last.b == b {
		return last.key
	}
	k := hasher.Key(value)
	keys.mu.Lock()
	keys.last = connKey{hasher: hasher, a: a, b: b, key: k}
	keys.mu.Unlock()
	return k
}
