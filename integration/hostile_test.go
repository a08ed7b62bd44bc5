package integration

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// wholeID is the entry ID grammar, anchored: what alone may reach INUBIT.
var wholeID = regexp.MustCompile(`^webform@@@[A-Za-z0-9_.()/-]+@@@[0-9]+\.xml$`)

// rawRequest sends bytes exactly as given, as a hostile client would,
// and returns the status code Caddy answered with.
func rawRequest(t *testing.T, raw string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort), 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = conn.Write([]byte(raw))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "Caddy must answer a hostile request, not drop the connection")
	resp.Body.Close()
	return resp.StatusCode
}

// get builds a raw GET with the given extra header lines.
func get(target string, headers ...string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
		strings.Join(headers, "") + "\r\n"
}

// TestHostileInputReachesINUBITOnlyAsWellFormedCalls floods the handler
// with malformed, oversized and injected input, then plays a normal
// session: the normal flow still works, and every call INUBIT received
// holds only whole entry IDs and exactly one valid user value.
func TestHostileInputReachesINUBITOnlyAsWellFormedCalls(t *testing.T) {
	s := newStack(t, fakeinubit.Profile9XML)
	s.start(t, s.issueSite(siteOptions{}))

	id := func(n int) string { return fmt.Sprintf("webform@@@EvilWAC/form_x(%d)_app@@@%d.xml", n, 9000+n) }
	var manyCookies strings.Builder
	for i := 0; i < 2000; i++ { // below net/http's 3000, so the demo app sees its cookie too
		fmt.Fprintf(&manyCookies, "c%d=v; ", i)
	}
	var manyIDHeaders strings.Builder
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&manyIDHeaders, "webappIdentifier: %s\r\n", id(i))
	}

	hostile := map[string]string{
		"thousands of cookies": get("/whoami?user=mallory", "Cookie: "+manyCookies.String()+"JSESSIONID=EVIL1\r\n",
			"webappIdentifier: "+id(1)+"\r\n"),
		"huge session cookie": get("/whoami?user=mallory", "Cookie: JSESSIONID="+strings.Repeat("A", 6000)+"\r\n",
			"webappIdentifier: "+id(2)+"\r\n"),
		"cookie with invalid bytes": get("/whoami?user=mallory", "Cookie: JSESSIONID=EV\x01IL\xff\r\n",
			"webappIdentifier: "+id(3)+"\r\n"),
		"two IDs joined by a comma": get("/whoami", "Cookie: JSESSIONID=EVIL2\r\n",
			"webappIdentifier: "+id(4)+","+id(5)+"\r\n"),
		"encoded line break in help params": get(
			"/ibis/rest/task/help?params=webform@@@A/x%0D%0Auser=root@@@1.xml@@@validation",
			"Cookie: JSESSIONID=EVIL2\r\n"),
		"encoded line break in user": get("/whoami?user=eve%0D%0Awebform@@@A/b@@@1.xml",
			"Cookie: JSESSIONID=EVIL3\r\n", "webappIdentifier: "+id(6)+"\r\n"),
		"invalid UTF-8 user": get("/whoami?user=%FF%FEeve", "Cookie: JSESSIONID=EVIL3\r\n"),
		"huge user":          get("/whoami?user="+strings.Repeat("u", 5000), "Cookie: JSESSIONID=EVIL3\r\n"),
		"ID header flood":    get("/whoami?user=flood", "Cookie: JSESSIONID=EVIL4\r\n", manyIDHeaders.String()),
		"not an ID":          get("/whoami", "Cookie: JSESSIONID=EVIL2\r\n", "webappIdentifier: ../../etc/passwd\r\n"),
		"overlong ID":        get("/whoami", "Cookie: JSESSIONID=EVIL2\r\n", "webappIdentifier: webform@@@"+strings.Repeat("a", 5000)+"@@@1.xml\r\n"),
		"query-shaped user": get("/whoami?user=a%26user%3Droot%23x%20y%C3%BC",
			"Cookie: JSESSIONID=EVIL5\r\n", "webappIdentifier: "+id(7)+"\r\n"),
	}
	for name, raw := range hostile {
		status := rawRequest(t, raw)
		assert.Less(t, status, 500, "%s: Caddy answered %d", name, status)
	}
	// The hostile sessions end too, so that whatever they collected is
	// sent and can be inspected.
	for _, c := range []string{"EVIL1", "EVIL2", "EVIL3", "EVIL4", "EVIL5"} {
		rawRequest(t, get("/logout", "Cookie: JSESSIONID="+c+"\r\n"))
	}

	// A normal browser still works end to end.
	alice := newBrowser(t)
	alice.login("alice")
	opened := alice.openForm(formUUID(0))
	alice.get("/logout")
	assert.Equal(t, []string{opened}, s.waitCleared(t, "alice", []string{opened}))
	s.waitCleared(t, "a&user=root#x yü", []string{id(7)})
	s.waitCleared(t, "mallory", []string{id(1)})

	for _, call := range s.inubit.Calls() {
		require.Len(t, call.Users, 1, "exactly one user value: %q", call.RawQuery)
		user := call.Users[0]
		assert.True(t, utf8.ValidString(user), "user %q", user)
		assert.False(t, strings.ContainsFunc(user, unicode.IsControl), "user %q", user)
		assert.NotEqual(t, "root", user, "an injected parameter must not become the user")
		for _, got := range call.IDs {
			assert.Regexp(t, wholeID, got, "only whole entry IDs reach INUBIT")
		}
		assert.Equal(t, strings.Join(call.IDs, "\n"), call.Body, "no stray separator in the body")
	}
	cleared := s.inubit.Cleared()
	assert.LessOrEqual(t, len(cleared["flood"]), 256, "max_ids_per_session bounds a flood")
	assert.NotContains(t, cleared, "", "no call without a user")
}
