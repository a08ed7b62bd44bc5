package fakeinubit

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A refused entry fails every call naming it, alone or in a batch, until
// the refusal is lifted; other calls pass.
func TestRefuseEntry(t *testing.T) {
	s, ts := startFake(t, Profile8)
	s.RefuseEntry("b.xml", http.StatusBadRequest)

	resp, _ := doClear(t, ts, clearReq{body: "a.xml\nb.xml"})
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = doClear(t, ts, clearReq{body: "a.xml"})
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = doClear(t, ts, clearReq{body: "b.xml", user: testUser, pass: "wrong"})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "credentials are checked first")

	s.RefuseEntry("b.xml", 0)
	resp, _ = doClear(t, ts, clearReq{body: "b.xml"})
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"a.xml", "b.xml"}, s.Cleared()["alice"])
}
