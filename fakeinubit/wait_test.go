package fakeinubit

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWaitForClear(t *testing.T) {
	s, ts := startFake(t, Profile9XML)
	clearInBackground(t, ts, clearReq{body: "a.xml\nb.xml"})

	err := s.WaitForClear(testContext(t), func(calls []ClearCall) bool {
		return len(calls) == 1 && calls[0].Status == http.StatusOK
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"a.xml", "b.xml"}, s.Cleared()["alice"])
}

func TestWaitForClearCountUnderLoad(t *testing.T) {
	s, ts := startFake(t, Profile8)
	const n = 20
	for i := range n {
		clearInBackground(t, ts, clearReq{body: strconv.Itoa(i) + ".xml"})
	}
	require.NoError(t, s.WaitForClearCount(testContext(t), n))
	assert.Len(t, s.Cleared()["alice"], n)
}

func TestWaitForSeesEntryCleared(t *testing.T) {
	s, ts := startFake(t, Profile9JSON)
	id := openForm(t, s, ts)
	clearInBackground(t, ts, clearReq{body: id})

	err := s.WaitFor(testContext(t), func() bool { return len(s.Open()) == 0 })
	require.NoError(t, err)
	assert.Equal(t, []string{id}, s.Minted())
}

func TestWaitEndsWithContext(t *testing.T) {
	s, _ := startFake(t, Profile8)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.WaitForClearCount(ctx, 1)
	assert.ErrorIs(t, err, context.Canceled)

	assert.NoError(t, s.WaitForClearCount(ctx, 0), "a met condition needs no wait")
}

func TestChangedFires(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *Server)
	}{
		{"maintenance", func(s *Server) { s.SetMaintenance(true) }},
		{"reset", func(s *Server) { s.Reset() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startFake(t, Profile8)
			ch := s.Changed()
			select {
			case <-ch:
				t.Fatal("closed before any change")
			default:
			}
			tc.change(s)
			select {
			case <-ch:
			default:
				t.Fatal("not closed after the change")
			}
		})
	}
}
