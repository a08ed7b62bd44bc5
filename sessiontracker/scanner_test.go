package sessiontracker

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scanAll feeds the chunks to a fresh scanner and returns what it found.
func scanAll(chunks ...[]byte) []string {
	var sc Scanner
	for _, c := range chunks {
		n, err := sc.Write(c)
		if n != len(c) || err != nil {
			panic("Write must consume everything")
		}
	}
	return sc.IDs()
}

func TestScannerRenderings(t *testing.T) {
	tests := map[string]struct {
		body string
		want []string
	}{
		"hidden input with decimal references": {
			`<input type="hidden" name="id" value="webform&#64;&#64;&#64;` +
				`ServerSideValWAC/form_webappvalidateserversidetg(2)_serversidevalidationwebapp` +
				`&#64;&#64;&#64;10020.xml">`,
			[]string{docSampleID},
		},
		"hidden input with hex references": {
			`<input value="webform&#x40;&#X40;&#x0040;W&#x2f;f&#x28;2&#x29;_a&#64;@@1.xml"/>`,
			[]string{"webform@@@W/f(2)_a@@@1.xml"},
		},
		"named references": {
			`<td>webform&commat;&commat;&commat;W&sol;f&lpar;2&rpar;&lowbar;a&UnderBar;b` +
				`&commat;&commat;&commat;3&period;xml</td>`,
			[]string{"webform@@@W/f(2)_a_b@@@3.xml"},
		},
		"script variable raw": {
			"<script>var webappIdentifier = '" + docSampleID + "';</script>",
			[]string{docSampleID},
		},
		"JSON with escaped slash": {
			`{"identifier":"webform@@@ServerSideValWAC\/form_webappvalidateserversidetg(2)` +
				`_serversidevalidationwebapp@@@10020.xml","ok":true}`,
			[]string{docSampleID},
		},
		"JSON with unicode escapes": {
			`{"id":"webform\u0040\u0040\u0040W\u002Ff\u00282\u0029_a\u0040\u0040\u00409.xml"}`,
			[]string{"webform@@@W/f(2)_a@@@9.xml"},
		},
		"JavaScript hex escapes": {
			`x = "webform\x40\x40\x40W\x2ff@@@9.xml";`,
			[]string{"webform@@@W/f@@@9.xml"},
		},
		"percent encoded in href": {
			`<a href="/ibis/rest/task/help?params=` +
				`webform%40%40%40W%2Ff%282%29_a%40%40%4010020.xml` +
				`%40%40%40validation&amp;x=1">help</a>`,
			[]string{"webform@@@W/f(2)_a@@@10020.xml"},
		},
		"mixed renderings in one ID": {
			`webform&#64;\u0040%40W&sol;f\/g%2fh&lpar;2\x29_a&commat;@%4010020&period;xml`,
			[]string{"webform@@@W/f/g/h(2)_a@@@10020.xml"},
		},
		"encoded suffix": {
			`webform@@@W@@@1%2E%78%6D%6C`,
			[]string{"webform@@@W@@@1.xml"},
		},
		"Ext JS config with several IDs": {
			"Ext.create('form',{id:'webform@@@A/b@@@1.xml',next:\"webform\\u0040\\u0040" +
				"\\u0040A\\/c@@@2.xml\"});",
			[]string{"webform@@@A/b@@@1.xml", "webform@@@A/c@@@2.xml"},
		},
		"ID inside failed candidate": {
			"webform@@@awebform@@@b/c@@@1.xml",
			[]string{"webform@@@b/c@@@1.xml"},
		},
		"matches do not overlap": {
			"webform@@@webform@@@1.xml@@@2.xml",
			[]string{"webform@@@webform@@@1.xml"},
		},
		"marker inside a word": {
			"class=\"x-webform@@@a@@@1.xml\"",
			[]string{"webform@@@a@@@1.xml"},
		},
		"double escaped entity is not decoded": {
			"webform&amp;#64;&amp;#64;&amp;#64;a@@@1.xml", nil,
		},
		"entity without semicolon":       {"webform&#64&#64&#64a@@@1.xml", nil},
		"non-ASCII escape":               {`webform@@@a\u00e4@@@1.xml`, nil},
		"escaped marker is not a marker": {"&#119;ebform@@@a@@@1.xml", nil},
		"space in path":                  {"webform@@@a b@@@1.xml", nil},
		"encoded newline in path":        {"webform@@@a%0Ab@@@1.xml", nil},
		"unfinished at end of body":      {"webform@@@a@@@1.xm", nil},
		"too long": {
			strings.ReplaceAll(idOfLength(MaxEntryIDLength+1), "@", "&#64;"),
			nil,
		},
		"longest with long escapes": {
			strings.Repeat("x", 3) + strings.NewReplacer("p", "&#x00000070;", "@", "&#00000064;").
				Replace(idOfLength(MaxEntryIDLength)),
			[]string{idOfLength(MaxEntryIDLength)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, scanAll([]byte(tc.body)))
		})
	}
}

func TestScannerDedupe(t *testing.T) {
	body := "webform@@@a@@@1.xml webform&#64;@@a@@@1.xml webform@@@b@@@2.xml " +
		"webform%40%40%40a%40%40%401.xml webform@@@b@@@2.xml"
	assert.Equal(t, []string{"webform@@@a@@@1.xml", "webform@@@b@@@2.xml"},
		scanAll([]byte(body)))
}

func TestScannerMaxIDs(t *testing.T) {
	var body strings.Builder
	for i := range 1205 {
		fmt.Fprintf(&body, "<i>webform@@@f@@@%d.xml</i>", i)
	}

	t.Run("default", func(t *testing.T) {
		var sc Scanner
		_, err := sc.Write([]byte(body.String()))
		require.NoError(t, err)
		assert.Len(t, sc.IDs(), DefaultMaxIDs)
		assert.Equal(t, 205, sc.Dropped())
		assert.Equal(t, "webform@@@f@@@999.xml", sc.IDs()[DefaultMaxIDs-1])
	})

	t.Run("custom limit keeps known IDs", func(t *testing.T) {
		sc := Scanner{MaxIDs: 2}
		_, err := sc.Write([]byte("webform@@@a@@@1.xml webform@@@b@@@2.xml " +
			"webform@@@c@@@3.xml webform@@@a@@@1.xml webform@@@c@@@3.xml"))
		require.NoError(t, err)
		assert.Equal(t, []string{"webform@@@a@@@1.xml", "webform@@@b@@@2.xml"}, sc.IDs())
		assert.Equal(t, 2, sc.Dropped())
	})
}

func TestScannerReset(t *testing.T) {
	sc := Scanner{MaxIDs: 1}
	_, _ = sc.Write([]byte("webform@@@a@@@1.xml webform@@@b@@@2.xml webform@@@c@@@"))
	require.Equal(t, []string{"webform@@@a@@@1.xml"}, sc.IDs())
	require.Equal(t, 1, sc.Dropped())

	sc.Reset()
	assert.Empty(t, sc.IDs())
	assert.Zero(t, sc.Dropped())
	assert.Equal(t, 1, sc.MaxIDs)

	// The unfinished candidate of the last body must not join this one.
	_, _ = sc.Write([]byte("3.xml webform@@@a@@@1.xml"))
	assert.Equal(t, []string{"webform@@@a@@@1.xml"}, sc.IDs())
}

// samplePage holds IDs in several renderings, decoys and near misses, so
// that every kind of token crosses a chunk boundary somewhere.
const samplePage = `<!DOCTYPE html><html><head><title>webfor</title>
<script>var id = 'webform@@@ServerSideValWAC/form_webappvalidateserversidetg(2)` +
	`_serversidevalidationwebapp@@@10020.xml'; var w = "webweb";</script></head><body>
<input type="hidden"
 value="webform&#64;&#x40;&#X0040;W&sol;f&lpar;2&rpar;&lowbar;a&commat;@@1.xml">
<div data-x='{"id":"webform\u0040\u0040\u0040W\/g@@@2.xml","bad":"webform@@@x@@@y.xml"}'>
<a href="help?params=webform%40%40%40W%2Fh%40%40%403.xml%40%40%40en">?</a>
webform@@@awebform@@@W/i@@@4.xml webformwebform@@@W/j@@@5.xml webform&#64 webform\u00
webform@@@W/k@@@6%2Exm webform@@@W/l@@@7&#x2e;xml &amp;webform%40@@W/f(2)_a@@@1.xml
</body></html>`

var samplePageIDs = []string{
	docSampleID,
	"webform@@@W/f(2)_a@@@1.xml",
	"webform@@@W/g@@@2.xml",
	"webform@@@W/h@@@3.xml",
	"webform@@@W/i@@@4.xml",
	"webform@@@W/j@@@5.xml",
	"webform@@@W/l@@@7.xml",
}

func TestScannerChunkSplits(t *testing.T) {
	page := []byte(samplePage)
	require.Equal(t, samplePageIDs, scanAll(page), "one-shot result")

	t.Run("every single split", func(t *testing.T) {
		for i := range len(page) + 1 {
			if !assert.Equal(t, samplePageIDs, scanAll(page[:i], page[i:]), "split at %d", i) {
				return
			}
		}
	})

	t.Run("byte by byte", func(t *testing.T) {
		chunks := make([][]byte, len(page))
		for i := range page {
			chunks[i] = page[i : i+1]
		}
		assert.Equal(t, samplePageIDs, scanAll(chunks...))
	})

	t.Run("random chunks", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 500 {
			var chunks [][]byte
			for rest := page; len(rest) > 0; {
				k := min(len(rest), rng.IntN(40))
				chunks = append(chunks, rest[:k])
				rest = rest[k:]
			}
			if !assert.Equal(t, samplePageIDs, scanAll(chunks...)) {
				return
			}
		}
	})

	t.Run("long escaped ID split everywhere", func(t *testing.T) {
		id := idOfLength(MaxEntryIDLength)
		body := []byte("<p>" + strings.ReplaceAll(id, "p", "&#x00000070;") + "</p>")
		for i := range len(body) + 1 {
			if !assert.Equal(t, []string{id}, scanAll(body[:i], body[i:]), "split at %d", i) {
				return
			}
		}
	})
}

func TestScannerCarryIsBounded(t *testing.T) {
	// A candidate that never ends must not make the scanner hold the body.
	body := []byte("webform@@@" + strings.Repeat("&#x00000070;", 4000))
	var sc Scanner
	for i := range body {
		_, _ = sc.Write(body[i : i+1])
		require.LessOrEqual(t, len(sc.carry), idMaxTokenLen)
	}
	_, _ = sc.Write(body)
	assert.LessOrEqual(t, cap(sc.carry), idMaxTokenLen+idRefill)
	assert.Empty(t, sc.IDs())
}

func TestScannerWriteDoesNotAllocate(t *testing.T) {
	chunk := []byte(strings.Repeat("<div class=\"row\">window webfor", 100))
	var sc Scanner
	_, _ = sc.Write(chunk) // warm up the carry
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = sc.Write(chunk)
	})
	assert.Zero(t, allocs)
}

func TestScannerStopsAtMaxBytes(t *testing.T) {
	page := []byte(`<input value="` + idA + `"> filler filler <input value="` + idB + `">`)
	cut := int64(len(page) - 10) // the second ID lies past the cap

	s := &Scanner{MaxBytes: cut}
	n, err := s.Write(page[:20])
	require.NoError(t, err)
	assert.Equal(t, 20, n)
	n, err = s.Write(page[20:])
	assert.ErrorIs(t, err, ErrScanLimit)
	assert.Equal(t, len(page)-20, n, "the caller is told every byte was taken")
	assert.Equal(t, []string{idA}, s.IDs())
	assert.True(t, s.Truncated())

	s.Reset()
	s.MaxBytes = int64(len(page))
	_, err = s.Write(page)
	require.NoError(t, err, "a body exactly at the cap is scanned whole")
	assert.False(t, s.Truncated())
	assert.Equal(t, []string{idA, idB}, s.IDs())
}
