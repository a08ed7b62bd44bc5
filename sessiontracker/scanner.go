package sessiontracker

import (
	"errors"
)

// DefaultMaxIDs is how many distinct IDs a Scanner keeps when its MaxIDs
// field is zero.
const DefaultMaxIDs = 1000

const (
	// idMarker starts every rendering of an ID; it is matched raw.
	idMarker = "webform"

	// idMaxEntityDigits is how many digits, leading zeros included, a
	// numeric character reference may have.
	idMaxEntityDigits = 8

	// idMaxEscapeLen is the longest escape of one character: "&#x", eight
	// digits and ";".
	idMaxEscapeLen = 3 + idMaxEntityDigits + 1

	// idMaxTokenLen bounds the bytes one rendered ID can span, and with it
	// what a Scanner carries from one Write to the next.
	idMaxTokenLen = MaxEntryIDLength * idMaxEscapeLen

	// idRefill is how many bytes of a chunk are moved behind the carry at a
	// time while the carry is not empty.
	idRefill = 256

	// idSmallCarry is the size of the first carry buffer.
	idSmallCarry = 512
)

var idMarkerBytes = []byte(idMarker)

// Scanner collects the entry IDs found in a response body written to it in
// chunks of any size, down to one byte. Each character of an ID after the
// marker word "webform" may be written raw or escaped: as an HTML numeric
// reference (&#64; &#x40;), a named one (&commat; &sol; &lpar; &rpar;
// &lowbar; &UnderBar; &period;), a JavaScript or JSON escape (\/ \u0040
// \x40) or a percent escape (%40), mixed freely. A candidate that breaks the
// grammar is dropped and the search goes on right after its marker; after a
// match it goes on after the match.
//
// Between writes a Scanner keeps only an unfinished candidate (at most
// MaxEntryIDLength characters of 12 bytes each) or a trailing piece of the
// marker, never the body. There is no Close: an ID counts as soon as its
// ".xml" has been read, so IDs is complete after the last Write.
//
// The zero value is ready to use. A Scanner is not safe for concurrent use.
type Scanner struct {
	// MaxIDs caps how many distinct IDs the scanner keeps; IDs found once
	// the cap is reached are counted by Dropped. Default: DefaultMaxIDs.
	MaxIDs int
	// MaxBytes caps how many bytes of a body are scanned; Write refuses
	// the rest with ErrScanLimit. Zero: no cap.
	MaxBytes int64

	scanned   int64
	truncated bool
	ids       []string
	seen      map[string]struct{}
	dropped   int

	// carry holds what the next Write needs: a candidate that starts at
	// carry[0] and is still being read by m (pending), or the end of the
	// previous chunk if it may begin the marker.
	carry   []byte
	pending bool
	m       idMatcher
}

// ErrScanLimit is returned by Write once MaxBytes have been scanned.
var ErrScanLimit = errors.New("scan limit reached")

// Write scans p. It keeps no reference to p. It returns len(p), nil,
// except past MaxBytes, where it scans what fits and reports
// ErrScanLimit, so that a copy into the Scanner stops there.
func (s *Scanner) Write(p []byte) (int, error) {
	n := len(p)
	var err error
	if s.MaxBytes > 0 {
		if left := s.MaxBytes - s.scanned; int64(len(p)) > left {
			p, err = p[:max(left, 0)], ErrScanLimit
			s.truncated = true
		}
		s.scanned += int64(len(p))
	}

	// Feed the carry in small steps until it is resolved, so that a large
	// chunk is only copied as far as a pending candidate reaches.
	for len(p) > 0 && len(s.carry) > 0 {
		k := min(len(p), idRefill)
		s.reserve(k)
		s.carry = append(s.carry, p[:k]...)
		p = p[k:]
		keep := s.scan(s.carry)
		s.carry = s.carry[:copy(s.carry, s.carry[keep:])]
	}

	if len(p) > 0 {
		keep := s.scan(p)
		s.carry = s.carry[:0]
		s.reserve(len(p) - keep)
		s.carry = append(s.carry, p[keep:]...)
	}
	return n, err
}

// Truncated reports whether a Write went past MaxBytes.
func (s *Scanner) Truncated() bool {
	return s.truncated
}

// reserve makes room for n more bytes in the carry. Most bodies never carry
// more than a piece of the marker, so the first buffer is small; a long
// candidate replaces it once with one of the largest size ever needed.
func (s *Scanner) reserve(n int) {
	need := len(s.carry) + n
	if need <= cap(s.carry) {
		return
	}
	size := idSmallCarry
	if need > size {
		size = idMaxTokenLen + idRefill
	}
	s.carry = append(make([]byte, 0, size), s.carry...)
}

// IDs returns the IDs found so far, once each, in order of first appearance.
// The slice belongs to the scanner and is reused after Reset; copy it to
// keep it longer.
func (s *Scanner) IDs() []string {
	return s.ids
}

// Dropped returns how many IDs were found after MaxIDs was reached. A
// dropped ID that occurs several times is counted each time.
func (s *Scanner) Dropped() int {
	return s.dropped
}

// Reset empties the scanner for the next body and keeps its buffers, so
// that scanners can be recycled through a sync.Pool. MaxIDs and MaxBytes
// are kept.
func (s *Scanner) Reset() {
	s.scanned, s.truncated = 0, false
	clear(s.ids)
	s.ids = s.ids[:0]
	clear(s.seen)
	s.dropped = 0
	s.carry = s.carry[:0]
	s.pending = false
}

// scan reads buf, which continues the stream right after what was scanned
// before, and returns the offset from which buf must be carried over.
func (s *Scanner) scan(buf []byte) int {
	// A pending candidate always starts at buf[0].
	i, tok := 0, 0
	for {
		if !s.pending {
			j := indexMarker(buf[i:])
			if j < 0 {
				return len(buf) - markerPrefixAtEnd(buf[i:])
			}
			tok = i + j
			s.m.begin()
			s.pending = true
		}

		switch s.m.run(buf[tok:]) {
		case idNeedMore:
			return tok
		case idMatched:
			s.record(s.m.buf[:s.m.n])
			i = tok + s.m.pos
		default:
			i = tok + len(idMarker)
		}
		s.pending = false
	}
}

// record adds id to the list unless it is already there or the list is full.
func (s *Scanner) record(id []byte) {
	if _, ok := s.seen[string(id)]; ok {
		return
	}
	limit := s.MaxIDs
	if limit <= 0 {
		limit = DefaultMaxIDs
	}
	if len(s.ids) >= limit {
		s.dropped++
		return
	}
	if s.seen == nil {
		s.seen = make(map[string]struct{})
	}
	str := string(id)
	s.seen[str] = struct{}{}
	s.ids = append(s.ids, str)
}

// markerPrefixAtEnd returns the length of the longest proper prefix of the
// marker that b ends with.
func markerPrefixAtEnd(b []byte) int {
	for k := min(len(b), len(idMarker)-1); k > 0; k-- {
		if string(b[len(b)-k:]) == idMarker[:k] {
			return k
		}
	}
	return 0
}

// idMatchResult tells how far idMatcher.run got.
type idMatchResult uint8

const (
	idNeedMore idMatchResult = iota // the bytes ran out; call again with more
	idMatched                       // a whole ID was read
	idFailed                        // the candidate is not an ID
)

// The parts of an ID, in the order they are read.
const (
	idPartOpen   = iota // "@@@" after the marker
	idPartPath          // path characters up to the first '@'
	idPartClose         // the remaining "@@" of the second separator
	idPartNumber        // decimal digits
	idPartSuffix        // ".xml"
	idPartDone
)

// idMatcher reads one candidate, one decoded character at a time. It can
// stop where the bytes run out and resume once more have arrived.
type idMatcher struct {
	pos   int   // offset in the candidate of the next byte to decode
	part  uint8 // the idPart being read
	count int   // characters read in the current part
	n     int   // bytes used in buf
	buf   [MaxEntryIDLength]byte
}

// begin starts a candidate right after its marker.
func (m *idMatcher) begin() {
	m.pos = len(idMarker)
	m.n = copy(m.buf[:], idMarker)
	m.part = idPartOpen
	m.count = 0
}

// run goes on reading the candidate tok, which starts with the marker and
// holds at least the bytes given to earlier calls.
func (m *idMatcher) run(tok []byte) idMatchResult {
	for m.pos < len(tok) {
		c, size := decodeIDChar(tok[m.pos:])
		if size == 0 {
			return idNeedMore
		}
		m.pos += size
		if !m.accept(c) {
			return idFailed
		}
		if m.part == idPartDone {
			return idMatched
		}
	}
	return idNeedMore
}

// accept appends c if the grammar allows it at this point.
func (m *idMatcher) accept(c byte) bool {
	if m.n == len(m.buf) {
		return false
	}
	switch m.part {
	case idPartOpen, idPartClose:
		if c != '@' {
			return false
		}
		m.count++
		if m.count == len("@@@") {
			m.part++
			m.count = 0
		}
	case idPartPath:
		switch {
		case c == '@' && m.count > 0:
			m.part, m.count = idPartClose, 1
		case isIDPathChar(c):
			m.count++
		default:
			return false
		}
	case idPartNumber:
		switch {
		case c >= '0' && c <= '9':
			m.count++
		case c == '.' && m.count > 0:
			m.part, m.count = idPartSuffix, 1
		default:
			return false
		}
	case idPartSuffix:
		if c != ".xml"[m.count] {
			return false
		}
		m.count++
		if m.count == len(".xml") {
			m.part = idPartDone
		}
	}
	m.buf[m.n] = c
	m.n++
	return true
}
