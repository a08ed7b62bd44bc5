package demoapp

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
)

// session is the server-side state behind one cookie value.
type session struct {
	// user is the logged-in user name; empty for an anonymous session.
	user string
	// portalID is the portal's own session ID, sent to INUBIT as
	// ISSessionId; it differs from the cookie value so the page never
	// carries the cookie.
	portalID string
}

// store holds live sessions by cookie value.
type store struct {
	mu       sync.Mutex
	sessions map[string]session
}

func newStore() *store {
	return &store{sessions: make(map[string]session)}
}

// get returns the session for cookie value id.
func (st *store) get(id string) (session, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.sessions[id]
	return s, ok
}

// create starts a session for user (empty for anonymous) and returns its
// new cookie value.
func (st *store) create(user string) string {
	id := randomHex(16)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sessions[id] = session{user: user, portalID: randomHex(8)}
	return id
}

// drop forgets the session with cookie value id, if any.
func (st *store) drop(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.sessions, id)
}

// count returns the number of live sessions.
func (st *store) count() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.sessions)
}

// randomHex returns n random bytes as upper-case hex, the way Tomcat
// writes session IDs.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return strings.ToUpper(hex.EncodeToString(b))
}

// current returns the request's session and cookie value, if the cookie
// names a live session.
func (a *App) current(r *http.Request) (session, string, bool) {
	c, err := r.Cookie(a.cookie)
	if err != nil || c.Value == "" {
		return session{}, "", false
	}
	s, ok := a.store.get(c.Value)
	return s, c.Value, ok
}

// setSessionCookie hands the browser cookie value id.
func (a *App) setSessionCookie(w http.ResponseWriter, id string) {
	v := a.cookie + "=" + id + "; Path=/; HttpOnly"
	if a.secure {
		v += "; Secure"
	}
	w.Header().Add("Set-Cookie", v)
}

// expireSessionCookie tells the browser to delete the session cookie.
func (a *App) expireSessionCookie(w http.ResponseWriter) {
	v := a.cookie + "=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
	if a.secure {
		v += "; Secure"
	}
	w.Header().Add("Set-Cookie", v)
}

// endSession forgets the request's session, if any, and deletes its
// cookie in the browser.
func (a *App) endSession(w http.ResponseWriter, r *http.Request) {
	if _, id, ok := a.current(r); ok {
		a.store.drop(id)
	}
	a.expireSessionCookie(w)
}
