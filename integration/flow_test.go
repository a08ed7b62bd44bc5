package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// TestLogoutClearsTheSessionsIDs plays two users through the issue's
// Caddyfile: one logs out, and exactly the IDs her session opened,
// submitted, validated or only saw are cleared for her, in one call with
// the documented wire format; the other session is left alone.
func TestLogoutClearsTheSessionsIDs(t *testing.T) {
	profiles := map[string]fakeinubit.Profile{
		"8.x HTML errors":   fakeinubit.Profile8,
		"9.x ApiError XML":  fakeinubit.Profile9XML,
		"9.x ApiError JSON": fakeinubit.Profile9JSON,
	}
	for name, profile := range profiles {
		t.Run(name, func(t *testing.T) {
			s := newStack(t, profile)
			s.start(t, s.issueSite(siteOptions{}))

			alice, bob := newBrowser(t), newBrowser(t)
			alice.login("alice")
			bob.login("bob")

			submitted := alice.openForm(formUUID(0))
			alice.submit(formUUID(0), submitted)
			validated := alice.openForm(formUUID(1))
			alice.validate(validated)
			onlySeen := alice.openForm(formUUID(2))
			bobs := bob.openForm(formUUID(0))

			alice.get("/logout")
			cleared := s.waitCleared(t, "alice", []string{submitted, validated, onlySeen})
			assert.ElementsMatch(t, []string{submitted, validated, onlySeen}, cleared)

			calls := s.inubit.Calls()
			require.Len(t, calls, 1, "one call for the user")
			call := calls[0]
			assert.Equal(t, http.MethodPost, call.Method)
			assert.Equal(t, []string{"alice"}, call.Users)
			assert.Equal(t, serviceUser, call.AuthUser)
			assert.True(t, call.AuthOK)
			assert.Equal(t, "text/plain; charset=utf-8", call.ContentType)
			assert.Equal(t, "application/xml", call.Accept)
			assert.Equal(t, "\n", call.Separator)
			assert.Equal(t, strings.Join(call.IDs, "\n"), call.Body, "no blank line, no trailing separator")
			assert.Equal(t, http.StatusOK, call.Status)

			assert.Contains(t, s.inubit.Open(), bobs, "bob's session is untouched")
			assert.NotContains(t, s.inubit.Cleared(), "bob")
		})
	}
}

// TestHandleBlocksWithoutRoute: with the directive's registered order the
// handler sees requests that handle blocks send to either upstream.
func TestHandleBlocksWithoutRoute(t *testing.T) {
	s := newStack(t, fakeinubit.Profile9XML)
	s.start(t, globalConfig+siteAddress+` {
	`+s.handlerBlock(siteOptions{})+`
	handle /ibis/* {
		reverse_proxy `+s.inubitA+`
	}
	handle {
		reverse_proxy `+s.webappA+`
	}
}
`)
	alice := newBrowser(t)
	alice.login("alice")
	id := alice.openForm(formUUID(0))
	alice.get("/portal/logout")
	assert.Equal(t, []string{id}, s.waitCleared(t, "alice", []string{id}))
}

// TestInsideRoute: the handler also works where the user orders it.
func TestInsideRoute(t *testing.T) {
	s := newStack(t, fakeinubit.Profile9XML)
	s.start(t, globalConfig+siteAddress+` {
	route {
		`+s.handlerBlock(siteOptions{})+`
		reverse_proxy /ibis/* `+s.inubitA+`
		reverse_proxy `+s.webappA+`
	}
}
`)
	alice := newBrowser(t)
	alice.login("alice")
	id := alice.openForm(formUUID(1))
	alice.get("/logout")
	assert.Equal(t, []string{id}, s.waitCleared(t, "alice", []string{id}))
}

// TestCookieDeletionEndsSession: the web app expires the session cookie
// on a route that is not a logout route.
func TestCookieDeletionEndsSession(t *testing.T) {
	s := newStack(t, fakeinubit.Profile8)
	s.start(t, s.issueSite(siteOptions{}))
	alice := newBrowser(t)
	alice.login("alice")
	id := alice.openForm(formUUID(0))
	alice.get("/session/reset")
	assert.Equal(t, []string{id}, s.waitCleared(t, "alice", []string{id}))
}

// TestRotationKeepsEntries: a form opened before login, when the session
// cookie still had its anonymous value, is cleared with the logged-in
// session, for the user the session showed at login.
func TestRotationKeepsEntries(t *testing.T) {
	s := newStack(t, fakeinubit.Profile9JSON)
	s.start(t, s.issueSite(siteOptions{}))
	alice := newBrowser(t)
	alice.get("/")
	before := alice.openForm(formUUID(0))
	alice.get("/login?user=alice") // the app rotates JSESSIONID here
	after := alice.openForm(formUUID(1))
	assert.Empty(t, s.inubit.Calls(), "rotation does not end the session")
	alice.get("/logout")
	cleared := s.waitCleared(t, "alice", []string{before, after})
	assert.ElementsMatch(t, []string{before, after}, cleared)
}

// TestIdleExpiry: a session that goes quiet is cleared after the idle
// timeout; one that keeps sending requests is not.
func TestIdleExpiry(t *testing.T) {
	s := newStack(t, fakeinubit.Profile9XML)
	s.start(t, s.issueSite(siteOptions{idleTimeout: "1s", extra: "sweep_interval 100ms"}))
	quiet, busy := newBrowser(t), newBrowser(t)
	quiet.login("quiet")
	busy.login("busy")
	quietID := quiet.openForm(formUUID(0))
	busyID := busy.openForm(formUUID(1))

	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		busy.get("/whoami")
		time.Sleep(200 * time.Millisecond)
	}
	assert.Equal(t, []string{quietID}, s.waitCleared(t, "quiet", []string{quietID}))
	assert.Contains(t, s.inubit.Open(), busyID, "the active session is not cleared")
	assert.NotContains(t, s.inubit.Cleared(), "busy")
}

// TestCommaSeparator: separator comma joins IDs as the vendor's example.
func TestCommaSeparator(t *testing.T) {
	s := newStack(t, fakeinubit.Profile9XML)
	s.start(t, s.issueSite(siteOptions{separator: "comma"}))
	alice := newBrowser(t)
	alice.login("alice")
	a, b := alice.openForm(formUUID(0)), alice.openForm(formUUID(1))
	alice.get("/logout")
	s.waitCleared(t, "alice", []string{a, b})
	call := s.inubit.Calls()[0]
	assert.Equal(t, ",", call.Separator)
	assert.Equal(t, a+","+b, call.Body)
}

// TestDeliveryRetriesThroughFailures: INUBIT answers 500, 503 and 401
// first; the IDs arrive once it answers 200.
func TestDeliveryRetriesThroughFailures(t *testing.T) {
	s := newStack(t, fakeinubit.Profile8)
	s.start(t, s.issueSite(siteOptions{}))
	s.inubit.FailNext(http.StatusInternalServerError, 2)
	alice := newBrowser(t)
	alice.login("alice")
	id := alice.openForm(formUUID(0))
	alice.get("/logout")
	assert.Equal(t, []string{id}, s.waitCleared(t, "alice", []string{id}))
	calls := s.inubit.Calls()
	require.Len(t, calls, 3)
	assert.Equal(t, []int{500, 500, 200}, []int{calls[0].Status, calls[1].Status, calls[2].Status})
}

// TestSessionWithoutUserUsesFallback: with no user placeholder matching,
// entries go to fallback_user.
func TestSessionWithoutUserUsesFallback(t *testing.T) {
	s := newStack(t, fakeinubit.Profile9XML)
	s.start(t, s.issueSite(siteOptions{extra: "fallback_user svc-forms"}))
	anon := newBrowser(t)
	anon.get("/")
	id := anon.openForm(formUUID(0))
	anon.get("/logout")
	assert.Equal(t, []string{id}, s.waitCleared(t, "svc-forms", []string{id}))
}

// TestSessionWithoutUserIsKeptNotSent: without fallback_user nothing is
// sent for a session that never showed a user.
func TestSessionWithoutUserIsKeptNotSent(t *testing.T) {
	s := newStack(t, fakeinubit.Profile9XML)
	s.start(t, s.issueSite(siteOptions{}))
	anon, alice := newBrowser(t), newBrowser(t)
	anon.get("/")
	anon.openForm(formUUID(0))
	anon.get("/logout")
	// A later session of a known user is delivered, proving the worker
	// ran past the anonymous one.
	alice.login("alice")
	id := alice.openForm(formUUID(1))
	alice.get("/logout")
	s.waitCleared(t, "alice", []string{id})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = s.inubit.WaitFor(ctx, func() bool { return len(s.inubit.Calls()) > 1 })
	assert.Len(t, s.inubit.Calls(), 1, "the anonymous session's entry is not sent without a user")
}

// TestUserFromHeader: the first non-empty user placeholder wins.
func TestUserFromHeader(t *testing.T) {
	s := newStack(t, fakeinubit.Profile9XML)
	s.start(t, s.issueSite(siteOptions{}))
	b := newBrowser(t)
	b.get("/")
	b.do(http.MethodGet, "/whoami?user=query-user", nil, http.Header{"User": {"header-user"}})
	id := b.openForm(formUUID(0))
	b.get("/logout")
	assert.Equal(t, []string{id}, s.waitCleared(t, "header-user", []string{id}))
}
