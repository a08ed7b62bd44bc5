package inubitsessions

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strings"

	"github.com/inubit-caddy/caddy-inubit-sessions/sessiontracker"
)

// maxInflatedBytes bounds how much of one compressed body is decompressed
// for scanning; the client always gets the whole original body.
const maxInflatedBytes = 64 << 20

// inflatable reports whether a Content-Encoding can be scanned through a
// decompressing copy.
func inflatable(encoding string) bool {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "gzip", "x-gzip", "deflate":
		return true
	}
	return false
}

// inflater scans a compressed body through a decompressing copy: the
// bytes sent to the client pass unchanged through Write, and a goroutine
// decompresses them into the scanner. A body that does not decompress is
// still passed on whole; only the scan stops.
type inflater struct {
	pw   *io.PipeWriter
	done chan struct{}
	err  error // why decompression stopped early; read after done
}

func newInflater(encoding string, scan io.Writer) *inflater {
	pr, pw := io.Pipe()
	inf := &inflater{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(inf.done)
		// Whatever happens below, keep reading so that Write never
		// blocks the response.
		defer func() { _, _ = io.Copy(io.Discard, pr) }()
		r, err := decompressor(strings.ToLower(strings.TrimSpace(encoding)), pr)
		if err != nil {
			if err != io.EOF { // an empty body (HEAD, 304) is not unreadable
				inf.err = err
			}
			return
		}
		_, err = io.Copy(scan, io.LimitReader(r, maxInflatedBytes))
		if err != nil && !errors.Is(err, sessiontracker.ErrScanLimit) {
			inf.err = err
		}
	}()
	return inf
}

// decompressor reads the encoding's format. HTTP's "deflate" is meant to
// be zlib-wrapped, but some servers send raw deflate; the zlib header
// tells them apart.
func decompressor(encoding string, r io.Reader) (io.Reader, error) {
	if encoding != "deflate" {
		return gzip.NewReader(r)
	}
	br := bufio.NewReader(r)
	head, err := br.Peek(2)
	if err != nil {
		return nil, err
	}
	if head[0]&0x0f == 8 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0 {
		return zlib.NewReader(br)
	}
	return flate.NewReader(br), nil
}

// Write hands bytes already sent to the client to the decompressor.
func (inf *inflater) Write(p []byte) (int, error) {
	return inf.pw.Write(p)
}

// Close ends the body, waits until everything was scanned, and reports
// a body that did not decompress.
func (inf *inflater) Close() error {
	_ = inf.pw.Close()
	<-inf.done
	return inf.err
}
