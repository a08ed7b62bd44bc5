package fakeinubit

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestViewMintsIDs(t *testing.T) {
	s, ts := startFake(t, Profile9XML)
	for _, wac := range []string{"Order-Form", "Order-Form", "leave_2"} {
		resp, _ := post(t, ts, ViewPrefix+wac, "", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	want := []string{
		"webform@@@OrderFormWAC/form_orderform(1)_orderformapp@@@10001.xml",
		"webform@@@OrderFormWAC/form_orderform(2)_orderformapp@@@10002.xml",
		"webform@@@leave2WAC/form_leave2(1)_leave2app@@@10003.xml",
	}
	assert.Equal(t, want, s.Minted())
	assert.Equal(t, want, s.Open())
}

func TestViewRecordsProperties(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"elements", "<webapp><ISSessionId>P-42</ISSessionId>" +
			"<ISUserName>alice@@@intern</ISUserName></webapp>"},
		{"named properties", `<properties><property name="ISSessionId">P-42</property>` +
			`<property name="ISUserName">alice&#64;&#64;&#64;intern</property></properties>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ts := startFake(t, Profile8)
			post(t, ts, ViewPrefix+testWAC, tc.body, nil)
			entries := s.Entries()
			require.Len(t, entries, 1)
			assert.Equal(t, testWAC, entries[0].WebApp)
			assert.Equal(t, "P-42", entries[0].SessionID)
			assert.Equal(t, "alice@@@intern", entries[0].UserName)
			assert.Equal(t, fixedNow, entries[0].Opened)
		})
	}
}

func TestViewPageCarriesRenderings(t *testing.T) {
	s, ts := startFake(t, Profile9JSON)
	resp, body := post(t, ts, ViewPrefix+testWAC, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))

	id := s.Minted()[0]
	raw, entity, slashed := Renderings(id)
	assert.Contains(t, body, `name="webappIdentifier" value="`+entity+`"`)
	assert.Contains(t, body, `var webappIdentifier = "`+raw+`";`)
	assert.Contains(t, body, `"webappIdentifier":"`+slashed+`"`)
	assert.Greater(t, len(body), DefaultPagePadding)
}

func TestRenderings(t *testing.T) {
	raw, entity, slashed := Renderings("webform@@@A/b(1)_c@@@10001.xml")
	assert.Equal(t, "webform@@@A/b(1)_c@@@10001.xml", raw)
	assert.Equal(t, "webform&#64;&#64;&#64;A/b(1)_c&#64;&#64;&#64;10001.xml", entity)
	assert.Equal(t, `webform@@@A\/b(1)_c@@@10001.xml`, slashed)
}

// chunkRecorder keeps every Write separately and counts flushes.
type chunkRecorder struct {
	header  http.Header
	status  int
	writes  []string
	flushes int
}

func (c *chunkRecorder) Header() http.Header  { return c.header }
func (c *chunkRecorder) WriteHeader(code int) { c.status = code }
func (c *chunkRecorder) Flush()               { c.flushes++ }

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func TestViewStreamsInChunks(t *testing.T) {
	tests := []struct {
		name      string
		opts      []Option
		chunkSize int
	}{
		{"defaults", nil, DefaultChunkSize},
		{"small chunks", []Option{WithChunkSize(64)}, 64},
		{"no padding, huge chunks", []Option{WithPagePadding(0), WithChunkSize(1 << 20)}, 1 << 20},
		{"more padding", []Option{WithPagePadding(20 << 10)}, DefaultChunkSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Profile9XML, nil, tc.opts...)
			rec := &chunkRecorder{header: http.Header{}}
			req := httptest.NewRequest(http.MethodPost, ViewPrefix+testWAC, nil)
			s.ServeHTTP(rec, req)

			require.Greater(t, len(rec.writes), 3)
			assert.Equal(t, len(rec.writes), rec.flushes, "a flush after every piece")
			page := ""
			for _, w := range rec.writes {
				assert.LessOrEqual(t, len(w), tc.chunkSize)
				page += w
			}
			raw, entity, slashed := Renderings(s.Minted()[0])
			for _, r := range []string{raw, entity, slashed} {
				assert.Contains(t, page, r)
				for _, w := range rec.writes {
					assert.NotContains(t, w, r, "every rendering crosses a cut")
				}
			}
		})
	}
}

func TestChunkBreaks(t *testing.T) {
	tests := []struct {
		name string
		n    int
		size int
		cuts []int
		want []int
	}{
		{"size only", 10, 4, nil, []int{4, 8}},
		{"exact multiple", 8, 4, nil, []int{4}},
		{"cuts restart the count", 10, 4, []int{3}, []int{3, 7}},
		{"unsorted duplicate cuts", 10, 100, []int{6, 2, 6}, []int{2, 6}},
		{"cuts outside ignored", 5, 100, []int{0, 5, 9}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, chunkBreaks(tc.n, tc.size, tc.cuts))
		})
	}
}

func TestViewRefusals(t *testing.T) {
	tests := []struct {
		name   string
		opts   []Option
		maint  bool
		method string
		wac    string
		want   int
	}{
		{"GET", nil, false, http.MethodGet, testWAC, http.StatusMethodNotAllowed},
		{"no uuid", nil, false, http.MethodPost, "", http.StatusNotFound},
		{"odd uuid", nil, false, http.MethodPost, "a%22b", http.StatusNotFound},
		{"nested path", nil, false, http.MethodPost, "a/b", http.StatusNotFound},
		{"maintenance ignored by default", nil, true, http.MethodPost, testWAC, http.StatusOK},
		{"maintenance honoured", []Option{WithWebAppMaintenance()}, true, http.MethodPost,
			testWAC, http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ts := startFake(t, Profile9XML, tc.opts...)
			s.SetMaintenance(tc.maint)
			req, err := http.NewRequest(tc.method, ts.URL+ViewPrefix+tc.wac, nil)
			require.NoError(t, err)
			resp, _ := send(t, req)
			assert.Equal(t, tc.want, resp.StatusCode)
			if tc.want != http.StatusOK {
				assert.Empty(t, s.Minted())
			}
		})
	}
}

func TestSubmit(t *testing.T) {
	tests := []struct {
		name    string
		wac     string
		header  func(id string) map[string]string
		cleared bool
		maint   bool
		want    int
	}{
		{"open entry", testWAC, withID, false, false, http.StatusOK},
		{"header missing", testWAC, func(string) map[string]string { return nil }, false, false,
			http.StatusBadRequest},
		{"unknown entry", testWAC, func(string) map[string]string {
			return map[string]string{SubmitHeader: "webform@@@x@@@1.xml"}
		}, false, false, http.StatusNotFound},
		{"other web app", "other-app", withID, false, false, http.StatusNotFound},
		{"cleared entry", testWAC, withID, true, false, http.StatusNotFound},
		{"maintenance", testWAC, withID, false, true, http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ts := startFake(t, Profile9XML, WithWebAppMaintenance())
			id := openForm(t, s, ts)
			if tc.cleared {
				doClear(t, ts, clearReq{body: id})
			}
			s.SetMaintenance(tc.maint)
			resp, body := post(t, ts, SubmitPrefix+tc.wac, "<data/>", tc.header(id))
			assert.Equal(t, tc.want, resp.StatusCode)
			if tc.want == http.StatusOK {
				assert.Contains(t, body, "submitted")
				assert.Equal(t, []string{id}, s.Submitted())
				assert.True(t, s.Entries()[0].Submitted)
			} else {
				assert.Empty(t, s.Submitted())
			}
		})
	}
}

func withID(id string) map[string]string { return map[string]string{SubmitHeader: id} }

func TestValidation(t *testing.T) {
	const tail = "@@@validation@@@ajaxSubmission@@@null@@@en"
	const fixed = "ajaxType=validation&ajaxMode=Submission&workflowName=@@@ISAjaxCall@@@"
	tests := []struct {
		name      string
		method    string
		query     func(id string) string
		cleared   bool
		want      int
		wantValid string
	}{
		{"encoded GET", http.MethodGet, func(id string) string {
			return fixed + "&params=" + url.QueryEscape(id+tail)
		}, false, http.StatusOK, "true"},
		{"raw POST", http.MethodPost, func(id string) string {
			return fixed + "&params=" + id + tail
		}, false, http.StatusOK, "true"},
		{"broken key", http.MethodPost, func(id string) string {
			return fixed + "&" + url.QueryEscape("¶ms") + "=" + url.QueryEscape(id+tail)
		}, false, http.StatusOK, "true"},
		{"cleared entry", http.MethodGet, func(id string) string {
			return fixed + "&params=" + url.QueryEscape(id+tail)
		}, true, http.StatusOK, "false"},
		{"params missing", http.MethodGet, func(string) string { return fixed }, false,
			http.StatusBadRequest, ""},
		{"PUT", http.MethodPut, func(id string) string { return fixed + "&params=" + id },
			false, http.StatusMethodNotAllowed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ts := startFake(t, Profile9JSON)
			id := openForm(t, s, ts)
			if tc.cleared {
				doClear(t, ts, clearReq{body: id})
			}
			req, err := http.NewRequest(tc.method, ts.URL+HelpPath+"?"+tc.query(id), nil)
			require.NoError(t, err)
			resp, body := send(t, req)
			assert.Equal(t, tc.want, resp.StatusCode)
			if tc.want != http.StatusOK {
				assert.Empty(t, s.Validated())
				return
			}
			assert.Equal(t, []string{id}, s.Validated())
			assert.Equal(t, "application/xml", resp.Header.Get("Content-Type"))
			assert.Contains(t, body, "<valid>"+tc.wantValid+"</valid>")
		})
	}
}
