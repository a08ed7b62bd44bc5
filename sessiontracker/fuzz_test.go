package sessiontracker

import (
	"slices"
	"strings"
	"testing"
)

// fuzzSeeds hold one sample of each rendering the scanner decodes, plus
// near misses, so that the seeds alone exercise every branch.
var fuzzSeeds = []string{
	docSampleID,
	`<input type="hidden" value="webform&#64;&#64;&#64;W/f(2)_a&#64;&#64;&#64;10020.xml">`,
	`<i>webform&#x40;&#X40;&#x0040;W&#x2f;f@@@1.xml</i>`,
	`webform&commat;&commat;&commat;W&sol;f&lpar;2&rpar;&lowbar;a&UnderBar;b@@@3&period;xml`,
	`var id = "webform@@@W/f(2)_a@@@10020.xml";`,
	`{"id":"webform@@@W\/f@@@2.xml"}`,
	`{"id":"webform\u0040\u0040\u0040W\u002Ff@@@2.xml"}`,
	`s = "webform\x40\x40\x40W\x2ff@@@9.xml"`,
	`<a href="?params=webform%40%40%40W%2Ff%282%29_a%40%40%4010020.xml%40%40%40en">`,
	`webform&#64;\u0040%40W&sol;f\/g%2fh&lpar;2\x29_a&commat;@%4010020&period;xml`,
	"webform@@@awebform@@@b/c@@@1.xml webformwebform@@@d@@@2.xml",
	"webform@@@a\r\nb@@@1.xml webform@@@a,b@@@1.xml webform@@@a%0Db@@@1.xml",
	"webform&#64 webform\\u00 webform%4 webform&comm webform@@@x@@@1.xm",
	"webform@@@" + strings.Repeat("&#x00000070;", 520) + "@@@1.xml",
}

func FuzzScanner(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), uint16(i*7))
	}
	f.Fuzz(func(t *testing.T, body []byte, cut uint16) {
		whole := scanAll(body)
		seen := make(map[string]bool)
		for _, id := range whole {
			if !IsEntryID(id) {
				t.Fatalf("invalid ID %q", id)
			}
			if strings.ContainsFunc(id, isForbiddenInID) {
				t.Fatalf("ID %q holds a control, space, comma or non-ASCII character", id)
			}
			if seen[id] {
				t.Fatalf("ID %q listed twice", id)
			}
			seen[id] = true
		}

		// Split once at cut, then into three parts, then byte by byte.
		i := int(cut) % (len(body) + 1)
		if got := scanAll(body[:i], body[i:]); !slices.Equal(got, whole) {
			t.Fatalf("split at %d: got %q, want %q", i, got, whole)
		}
		j := i + (len(body)-i)/2
		if got := scanAll(body[:i], body[i:j], body[j:]); !slices.Equal(got, whole) {
			t.Fatalf("split at %d and %d: got %q, want %q", i, j, got, whole)
		}
		var sc Scanner
		for k := range body {
			_, _ = sc.Write(body[k : k+1])
		}
		if !slices.Equal(sc.IDs(), whole) {
			t.Fatalf("byte by byte: got %q, want %q", sc.IDs(), whole)
		}
	})
}

func FuzzEntryIDFromHeader(f *testing.F) {
	f.Add(docSampleID)
	f.Add(" \twebform%40%40%40W%2Ff%282%29_a%40%40%401.xml\t")
	f.Add("webform%4")
	f.Add("webform@@@a@@@1.xml,webform@@@b@@@2.xml")
	f.Fuzz(func(t *testing.T, v string) {
		id, ok := EntryIDFromHeader(v)
		if ok != IsEntryID(id) {
			t.Fatalf("EntryIDFromHeader(%q) = %q, %v", v, id, ok)
		}
		if IsEntryID(v) && id != v {
			t.Fatalf("valid ID %q came back as %q", v, id)
		}
		// A valid ID is also found by the decoding search, as itself.
		if IsEntryID(v) && !slices.Equal(EntryIDsInString(v), []string{v}) {
			t.Fatalf("EntryIDsInString(%q) = %q", v, EntryIDsInString(v))
		}
	})
}

func FuzzEntryIDFromHelpParams(f *testing.F) {
	f.Add(docSampleID + "@@@validation@@@ajaxSubmission@@@null@@@en")
	f.Add("webform%40%40%40W%2Ff%40%40%401.xml%40%40%40en%zz")
	f.Add("@@@ISAjaxCall@@@")
	f.Add("webform@@@a@@@1")
	f.Fuzz(func(t *testing.T, v string) {
		id, ok := EntryIDFromHelpParams(v)
		if ok != IsEntryID(id) {
			t.Fatalf("EntryIDFromHelpParams(%q) = %q, %v", v, id, ok)
		}
		if ok && !strings.HasPrefix(v, id) && !strings.Contains(v, "%") {
			t.Fatalf("ID %q is not the start of %q", id, v)
		}
	})
}

// isForbiddenInID reports whether r must never appear in a reported ID: a
// control character, a space, a comma or anything outside ASCII.
func isForbiddenInID(r rune) bool {
	return r < 0x21 || r > 0x7e || r == ','
}
