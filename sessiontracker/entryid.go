package sessiontracker

import (
	"net/url"
	"strings"
)

// MaxEntryIDLength is the longest entry ID this package accepts, in bytes
// after decoding. Longer candidates are not IDs.
const MaxEntryIDLength = 512

// entryIDHead opens every entry ID: the marker word and the first separator.
const entryIDHead = "webform@@@"

// IsEntryID reports whether s is exactly one INUBIT Queue Manager entry ID:
// "webform@@@", a path of ASCII letters, digits and the characters _.()/-,
// "@@@", a decimal number and ".xml", at most MaxEntryIDLength bytes in all.
// It decodes nothing: an escaped character makes s invalid.
func IsEntryID(s string) bool {
	n := leadingEntryIDLen(s)
	return n > 0 && n == len(s)
}

// EntryIDFromHeader returns the entry ID carried in a request header such
// as webappIdentifier. Spaces and tabs around the value are ignored. A value
// that is not an ID as it stands is percent-decoded once and checked again.
func EntryIDFromHeader(v string) (string, bool) {
	if v != "" && (isBlank(v[0]) || isBlank(v[len(v)-1])) { // rare: net/textproto trims already
		v = strings.Trim(v, " \t")
	}
	if IsEntryID(v) {
		return v, true
	}
	// Every character of an ID takes at most three bytes when encoded.
	if len(v) > 3*MaxEntryIDLength || !strings.Contains(v, "%") {
		return "", false
	}
	d, err := url.PathUnescape(v)
	if err != nil || !IsEntryID(d) {
		return "", false
	}
	return d, true
}

// EntryIDFromHelpParams returns the entry ID at the start of the decoded
// value of the params query parameter of /ibis/rest/task/help. The ID ends
// right after its ".xml"; what follows (such as
// "@@@validation@@@ajaxSubmission@@@null@@@en") is ignored. A value that
// does not start with an ID is percent-decoded once, leaving malformed
// escapes as they are, and checked again. The result never shares memory
// with v, so keeping it does not keep a long query alive.
func EntryIDFromHelpParams(v string) (string, bool) {
	if n := leadingEntryIDLen(v); n > 0 {
		return strings.Clone(v[:n]), true
	}
	if !strings.Contains(v, "%") {
		return "", false
	}
	d := percentDecodePrefix(v, MaxEntryIDLength)
	if n := leadingEntryIDLen(d); n > 0 {
		return d[:n], true
	}
	return "", false
}

// EntryIDsInString returns every entry ID found anywhere in s, such as a
// cookie value or a raw query string, decoded by the same rules as Scanner
// and bounded by DefaultMaxIDs. IDs are listed once each, in order of first
// appearance; the result is nil when there is none.
func EntryIDsInString(s string) []string {
	if !strings.Contains(s, idMarker) {
		return nil
	}
	// One pass over the whole string; a candidate cut off at its end is
	// simply not an ID, so nothing needs to be carried.
	var sc Scanner
	sc.scan([]byte(s))
	return sc.ids
}

// leadingEntryIDLen returns the length of the raw entry ID that s starts
// with, or 0 if s does not start with one.
func leadingEntryIDLen(s string) int {
	if !strings.HasPrefix(s, entryIDHead) {
		return 0
	}
	// Looking no further than the size limit keeps the cost bounded and
	// rejects IDs that are too long.
	s = s[:min(len(s), MaxEntryIDLength)]
	i := len(entryIDHead)

	start := i
	for i < len(s) && isIDPathChar(s[i]) {
		i++
	}
	if i == start || !strings.HasPrefix(s[i:], "@@@") {
		return 0
	}
	i += len("@@@")

	start = i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start || !strings.HasPrefix(s[i:], ".xml") {
		return 0
	}
	return i + len(".xml")
}

// isIDPathChar reports whether c may appear in the path part of an ID.
func isIDPathChar(c byte) bool { return idPathChars[c] }

// idPathChars holds, per byte, whether it may appear in the path part of
// an ID: ASCII letters, digits and _.()/-. A table, as every byte of every
// candidate ID goes through it.
var idPathChars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_.()/-" {
		t[c] = true
	}
	return t
}()

// isBlank reports whether c is a space or a tab.
func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// percentDecodePrefix decodes %XX escapes at the start of s until the result
// holds limit+1 bytes, enough to tell an over-long ID. Malformed escapes are
// copied unchanged.
func percentDecodePrefix(s string, limit int) string {
	out := make([]byte, 0, min(len(s), limit+1))
	for i := 0; i < len(s) && len(out) <= limit; i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, lo := hexDigitValue(s[i+1]), hexDigitValue(s[i+2])
			if hi < 16 && lo < 16 {
				out = append(out, byte(hi<<4|lo))
				i += 2
				continue
			}
		}
		out = append(out, s[i])
	}
	return string(out)
}

// hexDigitValue returns the value of the hexadecimal digit c, or 255 if c is
// not one.
func hexDigitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return 255
}

// decodeIDChar decodes the character at the start of b, written raw or as
// one escape, and returns it with the number of bytes it takes. Size 0
// means b ends inside what may still become an escape. An escape of a
// non-ASCII character decodes to 0, which no ID contains. A backslash,
// ampersand or percent sign that starts no known escape stands for itself.
func decodeIDChar(b []byte) (byte, int) {
	c, size := b[0], 1
	switch c {
	case '&':
		c, size = decodeEntity(b)
	case '\\':
		c, size = decodeBackslashEscape(b)
	case '%':
		c, size = decodeHexDigits(b, 1, 2)
	}
	if size < 0 {
		return b[0], 1
	}
	return c, size
}

// idNamedEntities are the HTML named references of ID characters that the
// scanner understands. &hyphen; is absent on purpose: it means U+2010.
var idNamedEntities = [...]struct {
	name string
	c    byte
}{
	{"commat;", '@'},
	{"sol;", '/'},
	{"lpar;", '('},
	{"rpar;", ')'},
	{"lowbar;", '_'},
	{"UnderBar;", '_'},
	{"period;", '.'},
}

// decodeEntity decodes an HTML character reference at the start of b, which
// begins with '&'. Size -1 means it is none; 0 means more bytes are needed.
func decodeEntity(b []byte) (byte, int) {
	if len(b) < 2 {
		return 0, 0
	}
	if b[1] != '#' {
		return decodeNamedEntity(b[1:])
	}

	i, base := 2, 10
	if i == len(b) {
		return 0, 0
	}
	if b[i] == 'x' || b[i] == 'X' {
		i, base = i+1, 16
	}
	v, digits := 0, 0
	for ; i < len(b); i++ {
		if b[i] == ';' && digits > 0 {
			return asciiOrZero(v), i + 1
		}
		d := hexDigitValue(b[i])
		if d >= base || digits == idMaxEntityDigits {
			return 0, -1
		}
		v = v*base + d
		digits++
	}
	return 0, 0
}

// decodeNamedEntity decodes a named reference whose name starts rest.
func decodeNamedEntity(rest []byte) (byte, int) {
	partial := false
	for _, e := range idNamedEntities {
		if len(rest) >= len(e.name) {
			if string(rest[:len(e.name)]) == e.name {
				return e.c, 1 + len(e.name)
			}
		} else if string(rest) == e.name[:len(rest)] {
			partial = true
		}
	}
	if partial {
		return 0, 0
	}
	return 0, -1
}

// decodeBackslashEscape decodes \/, \uXXXX or \xXX at the start of b.
func decodeBackslashEscape(b []byte) (byte, int) {
	if len(b) < 2 {
		return 0, 0
	}
	switch b[1] {
	case '/':
		return '/', 2
	case 'u':
		return decodeHexDigits(b, 2, 4)
	case 'x':
		return decodeHexDigits(b, 2, 2)
	}
	return 0, -1
}

// decodeHexDigits reads the n hexadecimal digits at b[from:], which end an
// escape that starts at b[0].
func decodeHexDigits(b []byte, from, n int) (byte, int) {
	v := 0
	for i := from; i < from+n; i++ {
		if i == len(b) {
			return 0, 0
		}
		d := hexDigitValue(b[i])
		if d >= 16 {
			return 0, -1
		}
		v = v<<4 | d
	}
	return asciiOrZero(v), from + n
}

// asciiOrZero returns v as a byte if it is ASCII, else 0.
func asciiOrZero(v int) byte {
	if v < 0 || v > 0x7f {
		return 0
	}
	return byte(v)
}
