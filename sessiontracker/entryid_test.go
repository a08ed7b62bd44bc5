package sessiontracker

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// docSampleID is the sample ID printed in the INUBIT documentation.
const docSampleID = "webform@@@ServerSideValWAC/form_webappvalidateserversidetg(2)" +
	"_serversidevalidationwebapp@@@10020.xml"

// idOfLength returns a valid ID exactly n bytes long.
func idOfLength(n int) string {
	const fixed = len("webform@@@") + len("@@@1.xml")
	return "webform@@@" + strings.Repeat("p", n-fixed) + "@@@1.xml"
}

func TestIsEntryID(t *testing.T) {
	tests := map[string]struct {
		in   string
		want bool
	}{
		"documentation sample":        {docSampleID, true},
		"short":                       {"webform@@@a@@@1.xml", true},
		"every path character":        {"webform@@@azAZ09_.()/-@@@0.xml", true},
		"path ending in .xml":         {"webform@@@f.xml@@@7.xml", true},
		"exactly the maximum length":  {idOfLength(MaxEntryIDLength), true},
		"one byte too long":           {idOfLength(MaxEntryIDLength + 1), false},
		"empty":                       {"", false},
		"marker only":                 {"webform", false},
		"missing path":                {"webform@@@@@@1.xml", false},
		"missing number":              {"webform@@@a/b@@@.xml", false},
		"missing suffix":              {"webform@@@a/b@@@1", false},
		"missing second separator":    {"webform@@@a/b1.xml", false},
		"short first separator":       {"webform@@a/b@@@1.xml", false},
		"four at signs before number": {"webform@@@a/b@@@@1.xml", false},
		"four at signs before path":   {"webform@@@@a/b@@@1.xml", false},
		"letters in number":           {"webform@@@a/b@@@10a20.xml", false},
		"wrong suffix":                {"webform@@@a/b@@@1.XML", false},
		"text after suffix":           {"webform@@@a/b@@@1.xml@@@en", false},
		"wrong marker case":           {"Webform@@@a/b@@@1.xml", false},
		"leading space":               {" " + docSampleID, false},
		"space in path":               {"webform@@@a b@@@1.xml", false},
		"comma in path":               {"webform@@@a,b@@@1.xml", false},
		"two IDs joined by comma":     {docSampleID + "," + docSampleID, false},
		"CR in path":                  {"webform@@@a\rb@@@1.xml", false},
		"LF in path":                  {"webform@@@a\nb@@@1.xml", false},
		"CRLF after suffix":           {docSampleID + "\r\n", false},
		"tab in path":                 {"webform@@@a\tb@@@1.xml", false},
		"NUL in path":                 {"webform@@@a\x00b@@@1.xml", false},
		"non-ASCII in path":           {"webform@@@formulär@@@1.xml", false},
		"percent escape in path":      {"webform@@@a%2Fb@@@1.xml", false},
		"entity for separator":        {"webform&#64;&#64;&#64;a@@@1.xml", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, IsEntryID(tc.in))
		})
	}
}

func TestEntryIDFromHeader(t *testing.T) {
	encoded := "webform%40%40%40ServerSideValWAC%2Fform_webappvalidateserversidetg%282%29" +
		"_serversidevalidationwebapp%40%40%4010020.xml"
	tests := map[string]struct {
		in     string
		want   string
		wantOK bool
	}{
		"raw":                    {docSampleID, docSampleID, true},
		"spaces and tabs around": {" \t" + docSampleID + "\t ", docSampleID, true},
		"a space before only":    {" " + docSampleID, docSampleID, true},
		"a tab after only":       {docSampleID + "\t", docSampleID, true},
		"percent encoded":        {encoded, docSampleID, true},
		"lower-case hex": {
			"webform%40%40%40a%2fb%40%40%401.xml", "webform@@@a/b@@@1.xml", true,
		},
		"empty":                    {"", "", false},
		"trailing params":          {docSampleID + "@@@validation", "", false},
		"newline around":           {"\n" + docSampleID, "", false},
		"malformed escape":         {"webform%4%40%40a@@@1.xml", "", false},
		"encoded comma list":       {encoded + "%2C" + encoded, "", false},
		"double encoded":           {"webform%2540%2540%2540a@@@1.xml", "", false},
		"decodes to space in path": {"webform@@@a%20b@@@1.xml", "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := EntryIDFromHeader(tc.in)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestEntryIDFromHelpParams(t *testing.T) {
	const tail = "@@@validation@@@ajaxSubmission@@@null@@@en"
	tests := map[string]struct {
		in     string
		want   string
		wantOK bool
	}{
		"ID alone":        {docSampleID, docSampleID, true},
		"ID with trailer": {docSampleID + tail, docSampleID, true},
		"percent encoded": {
			"webform%40%40%40W%2Ff%282%29_a%40%40%4010020.xml%40%40%40en",
			"webform@@@W/f(2)_a@@@10020.xml", true,
		},
		"partly encoded": {
			"webform%40@@W/f(2)_a@%40%4010020.xml" + tail, "webform@@@W/f(2)_a@@@10020.xml", true,
		},
		"malformed escape after": {"webform%40%40%40a@@@1.xml%zz", "webform@@@a@@@1.xml", true},
		"empty":                  {"", "", false},
		"not at start":           {"x" + docSampleID, "", false},
		"workflow name":          {"@@@ISAjaxCall@@@", "", false},
		"no suffix":              {"webform@@@a/b@@@10020@@@validation", "", false},
		"too long":               {idOfLength(MaxEntryIDLength+1) + tail, "", false},
		"too long encoded": {
			strings.ReplaceAll(idOfLength(MaxEntryIDLength+1), "@", "%40"), "", false,
		},
		"space in path": {"webform@@@a b@@@1.xml", "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := EntryIDFromHelpParams(tc.in)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestEntryIDsInString(t *testing.T) {
	tests := map[string]struct {
		in   string
		want []string
	}{
		"empty":        {"", nil},
		"no ID":        {"JSESSIONID=abc; theme=dark", nil},
		"cookie value": {"last=" + docSampleID + "; lang=en", []string{docSampleID}},
		"help query": {
			"ajaxType=validation&workflowName=@@@ISAjaxCall@@@&params=webform%40%40%40W%2Ff" +
				"%40%40%4012.xml%40%40%40validation",
			[]string{"webform@@@W/f@@@12.xml"},
		},
		"broken params key": {
			"workflowName=@@@ISAjaxCall@@@¶ms=webform@@@W/f(2)_a@@@7.xml@@@validation",
			[]string{"webform@@@W/f(2)_a@@@7.xml"},
		},
		"broken params key encoded": {
			"workflowName=%40%40%40ISAjaxCall%40%40%40%C2%B6ms=" +
				"webform%40%40%40W%2Ff%40%40%407.xml",
			[]string{"webform@@@W/f@@@7.xml"},
		},
		"two IDs and a repeat": {
			"a=webform@@@x@@@1.xml&b=webform@@@y@@@2.xml&c=webform@@@x@@@1.xml",
			[]string{"webform@@@x@@@1.xml", "webform@@@y@@@2.xml"},
		},
		"marker without ID": {"webform=on&webform@@@x", nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, EntryIDsInString(tc.in))
		})
	}
}

func TestDecodeIDChar(t *testing.T) {
	tests := map[string]struct {
		in       string
		wantC    byte
		wantSize int
	}{
		"raw letter":                {"ab", 'a', 1},
		"decimal reference":         {"&#64;x", '@', 5},
		"hex reference":             {"&#x40;", '@', 6},
		"upper hex reference":       {"&#X2F;", '/', 6},
		"leading zeros":             {"&#00000064;", '@', 11},
		"too many digits":           {"&#000000064;", '&', 1},
		"reference without digits":  {"&#;", '&', 1},
		"reference without ;":       {"&#64x", '&', 1},
		"non-ASCII reference":       {"&#x2040;", 0, 8},
		"named commat":              {"&commat;", '@', 8},
		"named UnderBar":            {"&UnderBar;", '_', 10},
		"unknown name":              {"&amp;", '&', 1},
		"name without ;":            {"&sol/", '&', 1},
		"JSON slash":                {`\/`, '/', 2},
		"JSON unicode":              {`\u002f`, '/', 6},
		"JSON unicode upper":        {`\u002F`, '/', 6},
		"JS hex":                    {`\x40`, '@', 4},
		"other backslash":           {`\n`, '\\', 1},
		"bad unicode digit":         {`\u00g0`, '\\', 1},
		"percent":                   {"%2f", '/', 3},
		"bad percent":               {"%4g", '%', 1},
		"cut after ampersand":       {"&", 0, 0},
		"cut inside number":         {"&#x4", 0, 0},
		"cut inside name":           {"&comm", 0, 0},
		"cut inside unicode escape": {`\u00`, 0, 0},
		"cut after backslash":       {`\`, 0, 0},
		"cut inside percent":        {"%4", 0, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, size := decodeIDChar([]byte(tc.in))
			assert.Equal(t, tc.wantSize, size)
			assert.Equal(t, tc.wantC, c)
		})
	}
}
