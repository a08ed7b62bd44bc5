package sessiontracker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	idA = "webform@@@OrderWAC/form_orderentry(2)_orderapp@@@10020.xml"
	idB = "webform@@@OrderWAC/form_orderentry(3)_orderapp@@@10021.xml"
	idC = "webform@@@HelpWAC/form_help(1)_helpapp@@@10022.xml"
)

var t0 = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func testKeys() (Key, Key, Key) {
	h := NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	return h.Key("first"), h.Key("second"), h.Key("third")
}

func ids(e *Ended) []string {
	var out []string
	for _, entry := range e.Entries {
		out = append(out, entry.ID)
	}
	return out
}

func TestHasherKeyIsKeyedAndStable(t *testing.T) {
	a := NewHasher([]byte("secret-one-secret-one-secret-one"))
	b := NewHasher([]byte("secret-two-secret-two-secret-two"))
	assert.Equal(t, a.Key("ABC123"), a.Key("ABC123"))
	assert.NotEqual(t, a.Key("ABC123"), a.Key("ABC124"))
	assert.NotEqual(t, a.Key("ABC123"), b.Key("ABC123"), "a different secret must give a different key")
	assert.NotContains(t, a.Key("ABC123").String(), "ABC123")
	assert.Len(t, a.Key("x").Short(), 8)
}

func TestLogoutEndsSessionWithItsIDs(t *testing.T) {
	k1, k2, _ := testKeys()
	tr := New(Config{IdleTimeout: time.Hour})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idA}})
	tr.Observe(t0, Observation{Key: k2, HasKey: true, User: "bob", IDs: []string{idC}})
	tr.Observe(t0.Add(time.Second), Observation{Key: k1, HasKey: true, IDs: []string{idB, idA}})

	ended := tr.Observe(t0.Add(2*time.Second), Observation{Key: k1, HasKey: true, Logout: true})
	require.NotNil(t, ended)
	assert.Equal(t, ReasonLogout, ended.Reason)
	assert.Equal(t, "alice", ended.User)
	assert.Equal(t, []string{idA, idB}, ids(ended), "each ID once, in order of collection")
	assert.Equal(t, 1, tr.Len(), "the other session stays")
}

func TestIDsOfTheEndingRequestBelongToTheSession(t *testing.T) {
	k1, _, _ := testKeys()
	tr := New(Config{})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "alice"})
	ended := tr.Observe(t0, Observation{Key: k1, HasKey: true, CookieDeleted: true, IDs: []string{idC}})
	require.NotNil(t, ended)
	assert.Equal(t, ReasonCookieDeleted, ended.Reason)
	assert.Equal(t, []string{idC}, ids(ended))
}

func TestEndingAnUnknownSessionWithoutIDsReturnsNothing(t *testing.T) {
	k1, _, _ := testKeys()
	tr := New(Config{})
	assert.Nil(t, tr.Observe(t0, Observation{Key: k1, HasKey: true, Logout: true}))
}

func TestEntryKeepsUserKnownWhenCollected(t *testing.T) {
	k1, _, _ := testKeys()
	tr := New(Config{})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, IDs: []string{idA}})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idB}})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "carol", IDs: []string{idC}})
	ended := tr.Observe(t0, Observation{Key: k1, HasKey: true, Logout: true})
	require.NotNil(t, ended)
	assert.Equal(t, "carol", ended.User)
	assert.Equal(t, []Entry{{idA, ""}, {idB, "alice"}, {idC, "carol"}}, ended.Entries)
}

func TestRotationMovesEntriesToTheNewValue(t *testing.T) {
	k1, k2, _ := testKeys()
	tr := New(Config{})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, IDs: []string{idA}})
	// login: the upstream answers with a new session cookie value
	assert.Nil(t, tr.Observe(t0, Observation{Key: k1, HasKey: true, NewKey: k2, HasNewKey: true, User: "alice"}))
	assert.Equal(t, 1, tr.Len())
	assert.Nil(t, tr.Observe(t0, Observation{Key: k1, HasKey: true, Logout: true}), "old value is gone")

	ended := tr.Observe(t0, Observation{Key: k2, HasKey: true, Logout: true})
	require.NotNil(t, ended)
	assert.Equal(t, []string{idA}, ids(ended))
	assert.Equal(t, "alice", ended.User)
}

func TestRotationMergesIntoExistingSession(t *testing.T) {
	k1, k2, _ := testKeys()
	tr := New(Config{})
	tr.Observe(t0, Observation{Key: k2, HasKey: true, IDs: []string{idB}})
	tr.Observe(t0.Add(-time.Minute), Observation{Key: k1, HasKey: true, IDs: []string{idA, idB}})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, NewKey: k2, HasNewKey: true})
	ended := tr.Observe(t0, Observation{Key: k2, HasKey: true, Logout: true})
	require.NotNil(t, ended)
	assert.ElementsMatch(t, []string{idA, idB}, ids(ended))
	assert.Equal(t, t0, ended.Started, "the start of the session under the new value is kept: its stored record's")
}

func TestNewCookieWithoutOldOneStartsSession(t *testing.T) {
	_, k2, _ := testKeys()
	tr := New(Config{})
	tr.Observe(t0, Observation{NewKey: k2, HasNewKey: true, IDs: []string{idA}})
	ended := tr.Observe(t0, Observation{Key: k2, HasKey: true, Logout: true})
	require.NotNil(t, ended)
	assert.Equal(t, []string{idA}, ids(ended))
}

func TestDeleteAndNewValueInOneResponse(t *testing.T) {
	k1, k2, _ := testKeys()
	tr := New(Config{})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, IDs: []string{idA}})
	ended := tr.Observe(t0, Observation{Key: k1, HasKey: true, CookieDeleted: true, NewKey: k2, HasNewKey: true})
	require.NotNil(t, ended, "deleting the cookie ends the session; the new value is a new session")
	assert.Equal(t, []string{idA}, ids(ended))
	assert.Equal(t, 0, tr.Len(), "the new, empty session is tracked once it shows an entry or a user")
}

// Regression (hostile input): every cookieless request that an app
// answers with a new session cookie made a session, so a flood of
// plain GETs filled the table and pushed out real sessions.
func TestNewCookieAloneStartsNoSession(t *testing.T) {
	_, k2, k3 := testKeys()
	tr := New(Config{})
	tr.Observe(t0, Observation{NewKey: k2, HasNewKey: true})
	assert.Equal(t, 0, tr.Len())
	tr.Observe(t0, Observation{NewKey: k3, HasNewKey: true, User: "alice"})
	assert.Equal(t, 1, tr.Len(), "a user makes it worth tracking")
}

func TestObservationWithoutKeyIsIgnored(t *testing.T) {
	tr := New(Config{})
	assert.Nil(t, tr.Observe(t0, Observation{IDs: []string{idA}}))
	assert.Equal(t, 0, tr.Len())
}

func TestSweepEndsIdleSessionsOnly(t *testing.T) {
	k1, k2, _ := testKeys()
	tr := New(Config{IdleTimeout: 30 * time.Minute, MaxLifetime: 12 * time.Hour})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, IDs: []string{idA}})
	tr.Observe(t0, Observation{Key: k2, HasKey: true, IDs: []string{idB}})
	tr.Observe(t0.Add(29*time.Minute), Observation{Key: k2, HasKey: true})

	assert.Empty(t, tr.Sweep(t0.Add(29*time.Minute)))
	ended := tr.Sweep(t0.Add(31 * time.Minute))
	require.Len(t, ended, 1)
	assert.Equal(t, k1, ended[0].Key)
	assert.Equal(t, ReasonIdle, ended[0].Reason)
	assert.Equal(t, []string{idA}, ids(&ended[0]))
	assert.Equal(t, 1, tr.Len(), "the active session is kept")
}

func TestSweepEndsSessionsPastMaxLifetimeHoweverActive(t *testing.T) {
	k1, _, _ := testKeys()
	tr := New(Config{IdleTimeout: 30 * time.Minute, MaxLifetime: time.Hour})
	for m := 0; m < 60; m += 10 {
		tr.Observe(t0.Add(time.Duration(m)*time.Minute), Observation{Key: k1, HasKey: true, User: "alice"})
	}
	assert.Empty(t, tr.Sweep(t0.Add(59*time.Minute)))
	ended := tr.Sweep(t0.Add(time.Hour))
	require.Len(t, ended, 1)
	assert.Equal(t, ReasonMaxLifetime, ended[0].Reason)
}

func TestSetConfigAppliesToLiveSessions(t *testing.T) {
	k1, _, _ := testKeys()
	tr := New(Config{IdleTimeout: time.Hour})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, IDs: []string{idA}})
	assert.Empty(t, tr.Sweep(t0.Add(10*time.Minute)))
	tr.SetConfig(Config{IdleTimeout: 5 * time.Minute})
	assert.Len(t, tr.Sweep(t0.Add(10*time.Minute)), 1)
}

// Regression (IDs kept without a user): a request still in flight when
// the upstream rotated the session cookie (a page loading during login)
// showed the old value, and its IDs started a session of their own
// without a user. They now join the rotated session, for a while.
func TestRequestInFlightDuringRotationJoinsTheNewSession(t *testing.T) {
	k1, k2, _ := testKeys()
	tr := New(Config{})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, IDs: []string{idA}})
	tr.Observe(t0.Add(time.Second), Observation{Key: k1, HasKey: true, NewKey: k2, HasNewKey: true, User: "alice"})
	tr.Observe(t0.Add(2*time.Second), Observation{Key: k1, HasKey: true, IDs: []string{idB}})
	assert.Equal(t, 1, tr.Len(), "no session of its own for the old value")

	ended := tr.Observe(t0.Add(3*time.Second), Observation{Key: k2, HasKey: true, Logout: true})
	require.NotNil(t, ended)
	assert.Equal(t, []string{idA, idB}, ids(ended))
	assert.Equal(t, "alice", ended.User)

	// Long after the rotation, the old value is just a cookie again.
	tr.Observe(t0.Add(time.Hour), Observation{Key: k1, HasKey: true, IDs: []string{idC}})
	assert.Equal(t, 1, tr.Len())
	tr.Sweep(t0.Add(time.Hour))
	_, ok := tr.rotated.follow(k1, t0.Add(time.Hour))
	assert.False(t, ok, "old rotations are forgotten")
}

// A new session, a new user and a rotated cookie are urgent for the
// store (a crash that loses one of them loses the user or the session of
// every later entry); another entry ID is not.
func TestNotifyMarksWhatACrashMustNotLoseAsUrgent(t *testing.T) {
	k1, k2, _ := testKeys()
	tr := New(Config{IdleTimeout: time.Hour})
	var got []bool
	tr.SetNotify(func(urgent bool) { got = append(got, urgent) })

	tr.Observe(t0, Observation{Key: k1, HasKey: true, IDs: []string{idA}})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, IDs: []string{idB}})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "alice"})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "alice"}) // nothing new
	tr.Observe(t0, Observation{Key: k1, HasKey: true, NewKey: k2, HasNewKey: true})
	assert.Equal(t, []bool{true, false, true, true}, got,
		"new session, new ID, new user, (no change), rotation")
}

// A request's Live (what Touch found when it started) spares Observe a
// lookup, but a session that ended, was evicted or rotated away while
// the request ran must not take its IDs: they go where a lookup of the
// request's cookie leads, as without the Live.
func TestObserveWithStaleLiveFollowsTheCookieNotTheOldSession(t *testing.T) {
	k1, k2, _ := testKeys()
	tr := New(Config{})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idA}})

	// The session ends (logout on another tab) while a request runs; a
	// later request with the same cookie starts a new session.
	live, user := tr.Touch(t0.Add(time.Second), k1)
	require.True(t, live.Found())
	assert.Equal(t, "alice", user)
	first := tr.Observe(t0.Add(2*time.Second), Observation{Key: k1, HasKey: true, Logout: true})
	require.NotNil(t, first)
	tr.Observe(t0.Add(3*time.Second), Observation{Key: k1, HasKey: true, User: "bob"})
	tr.Observe(t0.Add(4*time.Second), Observation{Key: k1, HasKey: true, IDs: []string{idB}, Live: live})
	assert.Equal(t, []string{idA}, ids(first), "the ended session gains nothing afterwards")
	second := tr.Observe(t0.Add(5*time.Second), Observation{Key: k1, HasKey: true, Logout: true})
	require.NotNil(t, second)
	assert.Equal(t, []string{idB}, ids(second))
	assert.Equal(t, "bob", second.User)

	// The session rotates while a request with the old value runs: its
	// IDs follow the rotation into the session under the new value.
	tr.Observe(t0.Add(6*time.Second), Observation{Key: k1, HasKey: true, User: "carol", IDs: []string{idA}})
	live, _ = tr.Touch(t0.Add(7*time.Second), k1)
	require.True(t, live.Found())
	tr.Observe(t0.Add(8*time.Second), Observation{Key: k1, HasKey: true, NewKey: k2, HasNewKey: true})
	tr.Observe(t0.Add(9*time.Second), Observation{Key: k1, HasKey: true, IDs: []string{idC}, Live: live})
	assert.Equal(t, 1, tr.Len())
	rotated := tr.Observe(t0.Add(10*time.Second), Observation{Key: k2, HasKey: true, Logout: true})
	require.NotNil(t, rotated)
	assert.Equal(t, []string{idA, idC}, ids(rotated))
	assert.Equal(t, "carol", rotated.User)
}

// A live Live adds to its session like a lookup would.
func TestObserveWithLiveAddsToTheSession(t *testing.T) {
	k1, _, _ := testKeys()
	tr := New(Config{})
	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idA}})
	live, _ := tr.Touch(t0.Add(time.Second), k1)
	tr.Observe(t0.Add(time.Second), Observation{Key: k1, HasKey: true, IDs: []string{idA, idB}, Live: live})
	ended := tr.Observe(t0.Add(2*time.Second), Observation{Key: k1, HasKey: true, Logout: true})
	require.NotNil(t, ended)
	assert.Equal(t, []string{idA, idB}, ids(ended))
	assert.Equal(t, 0, tr.Len())
}

// Every end reaches the onEnd function, complete with the IDs of the
// request that ended it, before Observe or Sweep returns: a logout, an
// idle sweep and an eviction.
func TestOnEndSeesEveryEndWithItsEntries(t *testing.T) {
	k1, k2, k3 := testKeys()
	tr := New(Config{IdleTimeout: time.Minute, MaxSessions: 2})
	var seen []Ended
	tr.SetOnEnd(func(e *Ended) { seen = append(seen, *e) })
	tr.SetEvict(func([]Ended) {})

	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idA}})
	ended := tr.Observe(t0, Observation{Key: k1, HasKey: true, Logout: true, IDs: []string{idB}})
	require.Len(t, seen, 1)
	assert.Equal(t, *ended, seen[0])
	assert.Equal(t, []string{idA, idB}, ids(&seen[0]))

	tr.Observe(t0, Observation{Key: k1, HasKey: true, User: "alice", IDs: []string{idA}})
	tr.Observe(t0.Add(time.Second), Observation{Key: k2, HasKey: true, User: "bob", IDs: []string{idB}})
	tr.Observe(t0.Add(2*time.Second), Observation{Key: k3, HasKey: true, User: "carol", IDs: []string{idC}})
	require.Len(t, seen, 2, "the third session evicts the least recently seen")
	assert.Equal(t, ReasonEvicted, seen[1].Reason)
	assert.Equal(t, "alice", seen[1].User)

	swept := tr.Sweep(t0.Add(time.Hour))
	require.Len(t, swept, 2)
	require.Len(t, seen, 4)
	assert.ElementsMatch(t, swept, seen[2:])
}
