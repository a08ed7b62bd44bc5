package sessiontracker

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

const (
	regressionID1 = "webform@@@OrderWAC/form_orderentry(2)_orderapp@@@10020.xml"
	regressionID2 = "webform@@@OrderWAC/form_orderentry(3)_orderapp@@@10021.xml"
)

func regressionKey(s string) Key {
	var k Key
	copy(k[:], s)
	return k
}

// Regression (security, DoS; README lists "no size bounds" but not this): any
// request with a session cookie the tracker has not seen creates a session,
// even with no entry ID and no Set-Cookie from the upstream. A client
// sending a fresh random cookie per request grows memory for idle_timeout
// and, with the store, writes one bolt record per request every 100 ms
// (the bolt file never shrinks). Expected: a session is only kept once it
// has an entry (or the upstream set the cookie).
func TestCookiesWithoutEntriesNeedNoSession(t *testing.T) {
	tr := New(Config{IdleTimeout: 30 * time.Minute})
	now := time.Now()
	for i := range 10000 {
		tr.Observe(now, Observation{Key: regressionKey(fmt.Sprintf("rnd%08d", i)), HasKey: true})
	}
	changed := tr.TakeChanges(false).Sessions
	n := len(changed)
	assert.Equal(t, 0, tr.Len(), "cookies that never carried an entry need no session")
	assert.Zero(t, n, "and nothing to write to the store")
}
