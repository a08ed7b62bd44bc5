package sessiontracker

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// The marker's first and last bytes, for indexMarker (a test checks them
// against idMarker).
const (
	markerFirst = 'w'
	markerLast  = 'm'
)

// indexMarker returns the index of the first idMarker in b, or -1, as
// bytes.Index does, and faster where 'w' is common. bytes.Index hops
// from one 'w' to the next, which is fast where 'w' is rare (the hop is
// a vector search) and slow where it is not: script has many (window,
// width, new), and each hop costs a call. indexMarker hops the same way
// while the hops are long, and where one is short reads the next
// denseBlock bytes word by word instead (markerInWords).
func indexMarker(b []byte) int {
	const n = len(idMarker)
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], markerFirst)
		if j < 0 || len(b)-(i+j) < n {
			return -1
		}
		i += j
		if string(b[i:i+n]) == idMarker {
			return i
		}
		if j >= sparseGap {
			i++
			continue
		}
		end := min(len(b), i+denseBlock)
		if k := markerInWords(b[:end], i+1); k >= 0 {
			return k
		}
		// Every position up to end-n was searched; a marker may still
		// start in the last n-1 bytes of the block.
		i = max(i+1, end-n+1)
	}
}

// A hop to the next 'w' shorter than sparseGap bytes sends indexMarker to
// markerInWords for the next denseBlock bytes.
const (
	sparseGap  = 64
	denseBlock = 2048
)

// markerInWords returns the first position p >= from at which b holds
// the whole marker, or -1. It reads sixteen positions at a time, as four
// 64-bit words, for a 'w' with an 'm' six bytes on (a pair text seldom
// has by chance), and compares the whole marker only there.
func markerInWords(b []byte, from int) int {
	const (
		n     = len(idMarker)
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
		first = ones * markerFirst
		last  = ones * markerLast
		span  = 16 + n - 1 // bytes read per step
	)
	i := from
	for ; i+span <= len(b); i += 16 {
		s := b[i : i+span : i+span] // one bounds check for the four reads
		// Byte k of z is zero where position i+k holds the first byte
		// and position i+k+n-1 the last. The test below flags each zero
		// byte, and rarely a byte above one: every flag is checked.
		z0 := (binary.LittleEndian.Uint64(s[0:8]) ^ first) | (binary.LittleEndian.Uint64(s[n-1:n+7]) ^ last)
		z1 := (binary.LittleEndian.Uint64(s[8:16]) ^ first) | (binary.LittleEndian.Uint64(s[n+7:n+15]) ^ last)
		m0 := (z0 - ones) &^ z0 & highs
		m1 := (z1 - ones) &^ z1 & highs
		if m0|m1 == 0 {
			continue
		}
		if k := confirmMarker(b, i, m0); k >= 0 {
			return k
		}
		if k := confirmMarker(b, i+8, m1); k >= 0 {
			return k
		}
	}
	if j := bytes.Index(b[i:], idMarkerBytes); j >= 0 {
		return i + j
	}
	return -1
}

// confirmMarker returns the first position at+k, for a byte k flagged in
// mask, where b holds the whole marker, or -1.
func confirmMarker(b []byte, at int, mask uint64) int {
	for ; mask != 0; mask &= mask - 1 {
		k := at + bits.TrailingZeros64(mask)/8
		if string(b[k:k+len(idMarker)]) == idMarker {
			return k
		}
	}
	return -1
}
