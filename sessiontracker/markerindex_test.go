package sessiontracker

import (
	"bytes"
	"strings"
	"testing"
)

func TestMarkerConstantsMatchTheMarker(t *testing.T) {
	if idMarker[0] != markerFirst || idMarker[len(idMarker)-1] != markerLast {
		t.Fatalf("indexMarker searches for %q...%q, the marker is %q", markerFirst, markerLast, idMarker)
	}
}

// indexMarker answers as bytes.Index for markers, near-markers and
// first/last-byte pairs at every offset around its sixteen-byte steps.
func TestIndexMarkerAgreesWithBytesIndex(t *testing.T) {
	pieces := []string{"webform", "webfor", "ebform", "w     m", "wm", "webformwebform", "x",
		"window.m", "WEBFORM", "webfoRm", "\x00", "\xff", "wwwwwwwmmmmmmm", "webf@@@orm", "wwebform"}
	for _, a := range pieces {
		for _, c := range pieces {
			for pad := range 33 {
				s := []byte(strings.Repeat("-", pad) + a + strings.Repeat(".", 32-pad) + c)
				for start := range s {
					got, want := indexMarker(s[start:]), bytes.Index(s[start:], idMarkerBytes)
					if got != want {
						t.Fatalf("indexMarker(%q) = %d, bytes.Index = %d", s[start:], got, want)
					}
				}
			}
		}
	}
}

func FuzzIndexMarker(f *testing.F) {
	f.Add([]byte("var w=window; webform@@@A/f(1)_a@@@1.xml"))
	f.Add([]byte("wxxxxxmwebfor................webform"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := indexMarker(b), bytes.Index(b, idMarkerBytes); got != want {
			t.Fatalf("indexMarker(%q) = %d, bytes.Index = %d", b, got, want)
		}
	})
}

// In text dense with 'w' (and with first/last-byte pairs that are not
// markers), a marker at any position, block ends included, is found
// where bytes.Index finds it; so are a marker cut off at the end and no
// marker at all.
func TestIndexMarkerInDenseText(t *testing.T) {
	dense := strings.Repeat("w.....m.ww", 2*denseBlock/10)
	if got := indexMarker([]byte(dense)); got != -1 {
		t.Fatalf("indexMarker of text without the marker = %d", got)
	}
	for p := 0; p+len(idMarker) <= len(dense); p++ {
		b := []byte(dense[:p] + idMarker + dense[p+len(idMarker):])
		if got, want := indexMarker(b), bytes.Index(b, idMarkerBytes); got != want {
			t.Fatalf("marker at %d: indexMarker = %d, bytes.Index = %d", p, got, want)
		}
		if cut := b[:p+len(idMarker)-1]; indexMarker(cut) != bytes.Index(cut, idMarkerBytes) {
			t.Fatalf("marker cut off at %d: indexMarker = %d, bytes.Index = %d", p, indexMarker(cut), bytes.Index(cut, idMarkerBytes))
		}
	}
}
