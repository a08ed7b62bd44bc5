package faulttest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestSIGKILLJustAfterTheWindow: Caddy is killed with SIGKILL just after
// the handler's documented window (FlushInterval, 100 ms) has passed
// since it answered a request. What the browser was shown must still be
// cleared once the browser logs out: the three ways TestChaos loses IDs
// inside the window must not lose anything once the window has passed.
func TestSIGKILLJustAfterTheWindow(t *testing.T) {
	cases := []struct {
		name string
		// before plays up to the answer the kill follows; after plays
		// the rest once Caddy is back. Both return the IDs opened.
		before func(t *testing.T, b *browser) []string
		after  func(t *testing.T, b *browser) []string
	}{
		{
			name: "form opened",
			before: func(t *testing.T, b *browser) []string {
				b.mustLogin(t)
				return b.mustOpen(t, 2)
			},
			after: func(t *testing.T, b *browser) []string {
				b.mustLogout(t)
				return nil
			},
		},
		{
			name: "logged in",
			before: func(t *testing.T, b *browser) []string {
				b.mustLogin(t)
				return nil
			},
			after: func(t *testing.T, b *browser) []string {
				ids := b.mustOpen(t, 2)
				b.mustLogout(t)
				return ids
			},
		},
		{
			name: "logged out",
			before: func(t *testing.T, b *browser) []string {
				b.mustLogin(t)
				ids := b.mustOpen(t, 2)
				time.Sleep(flushSettle)
				b.mustLogout(t)
				return ids
			},
			after: func(*testing.T, *browser) []string { return nil },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := startStack(t)
			anna := st.browser(t, "anna")
			ids := tc.before(t, anna)
			time.Sleep(storeWindow) // the window the README documents, and the write
			st.kill9(t)
			ids = append(ids, tc.after(t, anna)...)

			err := waitFake(st.fake, 3*time.Second, func() bool {
				return clearedAll(st.fake, "anna", ids)
			})
			assert.NoError(t, err, "IDs %v not cleared after kill -9 past the window; %s",
				ids, describeCalls(st.fake.Calls()))
		})
	}
}
