package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

// admin sends one request to the in-process Caddy's admin endpoint.
func admin(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", adminPort, path),
		strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

// scrape returns the admin endpoint's /metrics.
func scrape(t *testing.T) string {
	t.Helper()
	code, body := admin(t, http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusOK, code, body)
	return body
}

// sample returns the value of one series in a scrape, such as
// `caddy_inubit_sessions_sessions_ended_total{reason="logout"}`, or -1
// when it is missing.
func sample(text, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// status is the part of GET /inubit_sessions/status the tests read.
type status struct {
	Storages []struct {
		Storage  string `json:"storage"`
		Sessions int    `json:"sessions"`
		Delivery struct {
			State string `json:"state"`
		} `json:"delivery"`
		PendingTotal int `json:"pending_total"`
		Parked       []struct {
			User   string `json:"user"`
			ID     string `json:"id"`
			Reason string `json:"reason"`
		} `json:"parked"`
		Counts struct {
			Ended      map[string]int `json:"sessions_ended"`
			ClearCalls map[string]int `json:"clear_calls"`
			IDsCleared int            `json:"ids_cleared"`
		} `json:"counts"`
	} `json:"storages"`
}

// readStatus returns the raw status of this stack's storage and its
// decoded form.
func (s *stack) readStatus(t *testing.T) (string, status) {
	t.Helper()
	code, body := admin(t, http.MethodGet, "/inubit_sessions/status?storage="+url.QueryEscape(s.storage), "")
	require.Equal(t, http.StatusOK, code, body)
	var st status
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	require.Len(t, st.Storages, 1)
	return body, st
}

// sessionCookie returns the browser's session cookie value for the site.
func (b *browser) sessionCookie() string {
	u, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d/", httpPort))
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "JSESSIONID" {
			return c.Value
		}
	}
	return ""
}

const prefix = "caddy_inubit_sessions_"

// TestMetricsAndStatusAfterLogout: after a logout flow, Caddy's /metrics
// and the status route show the collection, the end and the clear, and
// neither shows the cookie, the password or the user.
func TestMetricsAndStatusAfterLogout(t *testing.T) {
	s := newStack(t, fakeinubit.Profile9XML)
	s.start(t, s.issueSite(siteOptions{}))
	alice := newBrowser(t)
	alice.login("alice")
	a := alice.openForm(formUUID(0))
	alice.submit(formUUID(0), a)
	b := alice.openForm(formUUID(1))
	cookie := alice.sessionCookie()
	require.NotEmpty(t, cookie)
	assert.Equal(t, 1.0, sample(scrape(t), prefix+"sessions_tracked"))
	alice.get("/logout")
	s.waitCleared(t, "alice", []string{a, b})

	require.Eventually(t, func() bool { return sample(scrape(t), prefix+"ids_cleared_total") == 2 },
		5*time.Second, 10*time.Millisecond)
	text := scrape(t)
	for series, want := range map[string]float64{
		// the logout redirects to /, which starts an empty session: not
		// tracked until it shows an entry or a user
		prefix + "sessions_tracked":                          0,
		prefix + `sessions_ended_total{reason="logout"}`:     1,
		prefix + `clear_calls_total{status="200"}`:           1,
		prefix + `ids_collected_total{source="header"}`:      1,
		prefix + "ids_pending":                               0,
		prefix + "ids_parked":                                0,
		prefix + "inubit_maintenance":                        0,
		prefix + `inputs_refused_total{kind="user_invalid"}`: 0,
	} {
		assert.Equal(t, want, sample(text, series), series)
	}
	assert.GreaterOrEqual(t, sample(text, prefix+`ids_collected_total{source="response_body"}`), 2.0)

	raw, st := s.readStatus(t)
	got := st.Storages[0]
	assert.Equal(t, s.storage, got.Storage)
	assert.Equal(t, 0, got.Sessions, "the empty session the redirect to / started is not tracked")
	assert.Equal(t, "running", got.Delivery.State)
	assert.Equal(t, 1, got.Counts.Ended["logout"])
	assert.Equal(t, 1, got.Counts.ClearCalls["200"])
	assert.Equal(t, 2, got.Counts.IDsCleared)

	for _, secret := range []string{cookie, servicePass} {
		assert.NotContains(t, text, secret)
		assert.NotContains(t, raw, secret)
	}
	assert.NotContains(t, text, "alice", "no user names in metrics")

	// a reload brings a new metrics registry; the counts carry over, and
	// the site's own metrics handler serves them too
	s.start(t, globalConfig+siteAddress+` {
	metrics /metrics
	`+s.handlerBlock(siteOptions{separator: "comma"})+`
	reverse_proxy /ibis/* `+s.inubitA+`
	reverse_proxy `+s.webappA+`
}
`)
	site := alice.get("/metrics")
	adminText := scrape(t)
	for _, text := range []string{site, adminText} {
		assert.Equal(t, 2.0, sample(text, prefix+"ids_cleared_total"))
		assert.Equal(t, 1.0, sample(text, prefix+`sessions_ended_total{reason="logout"}`))
	}
}

// TestAdminRetryAndRelease: retry ends a maintenance pause without
// waiting for the health check, and a parked entry, once INUBIT takes it
// again, is released by ID and cleared.
func TestAdminRetryAndRelease(t *testing.T) {
	s := newStack(t, fakeinubit.Profile8)
	s.start(t, s.issueSite(siteOptions{extra: "maintenance_probe 1h"}))

	// maintenance: the clear waits for the hourly health check
	s.inubit.SetMaintenance(true)
	alice := newBrowser(t)
	alice.login("alice")
	id := alice.openForm(formUUID(0))
	alice.get("/logout")
	inMaintenance := func() bool {
		_, st := s.readStatus(t)
		return st.Storages[0].Delivery.State == "maintenance"
	}
	require.Eventually(t, inMaintenance, 5*time.Second, 10*time.Millisecond)
	text := scrape(t)
	assert.Equal(t, 1.0, sample(text, prefix+"inubit_maintenance"))
	assert.Equal(t, 1.0, sample(text, prefix+"ids_pending"))
	assert.Equal(t, 1.0, sample(text, prefix+`clear_calls_total{status="503"}`))
	s.inubit.SetMaintenance(false)
	time.Sleep(200 * time.Millisecond)
	assert.NotContains(t, s.inubit.Cleared(), "alice", "nothing goes before the next health check")

	code, body := admin(t, http.MethodGet, "/inubit_sessions/retry", "")
	assert.Equal(t, http.StatusMethodNotAllowed, code, body)
	code, body = admin(t, http.MethodPost, "/inubit_sessions/retry", "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"pause_lifted": "maintenance"`)
	s.waitCleared(t, "alice", []string{id})
	require.Eventually(t, func() bool { return sample(scrape(t), prefix+"inubit_maintenance") == 0 },
		5*time.Second, 10*time.Millisecond)

	// INUBIT keeps refusing one of bob's entries while others clear
	bob, carol := newBrowser(t), newBrowser(t)
	bob.login("bob")
	carol.login("carol")
	good, poison := bob.openForm(formUUID(1)), bob.openForm(formUUID(2))
	carols := carol.openForm(formUUID(0))
	s.inubit.RefuseEntry(poison, http.StatusBadRequest)
	bob.get("/logout")
	carol.get("/logout")
	s.waitCleared(t, "carol", []string{carols})
	s.waitCleared(t, "bob", []string{good})
	require.Eventually(t, func() bool { _, st := s.readStatus(t); return len(st.Storages[0].Parked) == 1 },
		10*time.Second, 10*time.Millisecond)
	_, st := s.readStatus(t)
	parked := st.Storages[0].Parked[0]
	assert.Equal(t, "bob", parked.User)
	assert.Equal(t, poison, parked.ID)
	assert.Contains(t, parked.Reason, "400")
	assert.Equal(t, 1.0, sample(scrape(t), prefix+"ids_parked"))

	code, body = admin(t, http.MethodPost, "/inubit_sessions/release", `{"id": "not-an-id"}`)
	assert.Equal(t, http.StatusBadRequest, code, body)
	s.inubit.RefuseEntry(poison, 0)
	code, body = admin(t, http.MethodPost, "/inubit_sessions/release", `{"id": "`+poison+`"}`)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"user": "bob"`)
	s.waitCleared(t, "bob", []string{good, poison})
	require.Eventually(t, func() bool { return sample(scrape(t), prefix+"ids_parked") == 0 },
		5*time.Second, 10*time.Millisecond)
	code, body = admin(t, http.MethodPost, "/inubit_sessions/release", `{"id": "`+poison+`"}`)
	assert.Equal(t, http.StatusNotFound, code, body)

	raw, _ := s.readStatus(t)
	assert.NotContains(t, raw, servicePass)
	assert.NotContains(t, scrape(t), servicePass)
}
