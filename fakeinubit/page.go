package fakeinubit

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Renderings returns the forms in which a form page carries entry ID id:
// raw (in a script variable), with every "@" written as the HTML entity
// "&#64;" (in a hidden input's value) and with every "/" escaped as "\/"
// (in an Ext JS config object). A collector must find all three.
func Renderings(id string) (raw, entity, slashed string) {
	return id, strings.ReplaceAll(id, "@", "&#64;"), strings.ReplaceAll(id, "/", `\/`)
}

// renderFormPage builds the form page for entry id of web app wac with
// about padding bytes of filler. It also returns, for every rendering of
// the ID, the offset of its middle, where the page must be cut.
func renderFormPage(id, wac string, padding int) (page []byte, cuts []int) {
	raw, entity, slashed := Renderings(id)
	pad := padding / 3
	submitURL := strings.ReplaceAll(SubmitPrefix+wac, "/", `\/`)

	var b bytes.Buffer
	mark := func(s string) {
		cuts = append(cuts, b.Len()+len(s)/2)
		b.WriteString(s)
	}
	fmt.Fprintf(&b, "<div class=\"x-webapp\" data-wac=\"%s\">\n", wac)
	writeFiller(&b, pad)
	b.WriteString("<form class=\"x-form\" onsubmit=\"return false\">\n")
	b.WriteString("<input type=\"hidden\" name=\"webappIdentifier\" value=\"")
	mark(entity)
	b.WriteString("\">\n<label>Comment <input type=\"text\" name=\"comment\"></label>\n</form>\n")
	writeFiller(&b, pad)
	b.WriteString("<script type=\"text/javascript\">\nvar webappIdentifier = \"")
	mark(raw)
	b.WriteString("\";\n</script>\n")
	writeFiller(&b, padding-2*pad)
	b.WriteString("<script type=\"text/javascript\">\nif (window.Ext) { Ext.onReady(function () {\n")
	b.WriteString("  Ext.create(\"Ext.form.Panel\", {\"title\":\"Form\",\"webappIdentifier\":\"")
	mark(slashed)
	fmt.Fprintf(&b, "\",\"submitUrl\":\"%s\"});\n}); }\n</script>\n</div>\n", submitURL)
	return b.Bytes(), cuts
}

// writeFiller appends an invisible block of about n bytes; nothing when
// n is too small to hold the wrapper.
func writeFiller(b *bytes.Buffer, n int) {
	const open, closing = `<div class="x-hidden" style="display:none">`, "</div>\n"
	text := n - len(open) - len(closing)
	if text <= 0 {
		return
	}
	const words = "lorem ipsum x-field x-panel x-toolbar dolor sit amet "
	b.WriteString(open)
	b.WriteString(strings.Repeat(words, text/len(words)+1)[:text])
	b.WriteString(closing)
}

// chunkBreaks returns the sorted offsets, strictly inside (0, n), where a
// page of n bytes is cut: every size bytes after the previous cut, and at
// each of cuts.
func chunkBreaks(n, size int, cuts []int) []int {
	var out []int
	for _, c := range cuts {
		if c > 0 && c < n {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)

	var all []int
	prev := 0
	for _, c := range append(out, n) {
		for prev+size < c {
			prev += size
			all = append(all, prev)
		}
		if c < n {
			all = append(all, c)
		}
		prev = c
	}
	return all
}

// writeChunked writes page in pieces cut at breaks, flushing after each,
// so that a proxy sees the entry IDs split across reads.
func writeChunked(w http.ResponseWriter, page []byte, breaks []int) {
	rc := http.NewResponseController(w)
	start := 0
	for _, end := range append(breaks, len(page)) {
		if _, err := w.Write(page[start:end]); err != nil {
			return
		}
		_ = rc.Flush()
		start = end
	}
}
