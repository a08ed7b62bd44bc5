// Package benchcalib holds two handlers that do nothing useful, for
// calibrating scripts/bench.sh: what one more handler in the route costs
// (bench_noop), and what wrapping the response writer the way
// inubit_sessions does costs (bench_wrap). They are built only into
// cmd/benchcaddy, never into the module users build with xcaddy.
package benchcalib

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(Noop{})
	caddy.RegisterModule(Wrap{})
	httpcaddyfile.RegisterHandlerDirective("bench_noop", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		h.Next()
		return Noop{}, nil
	})
	httpcaddyfile.RegisterHandlerDirective("bench_wrap", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		h.Next()
		return Wrap{}, nil
	})
	httpcaddyfile.RegisterDirectiveOrder("bench_noop", httpcaddyfile.Before, "header")
	httpcaddyfile.RegisterDirectiveOrder("bench_wrap", httpcaddyfile.Before, "header")
}

// Noop passes the request on.
type Noop struct{}

// CaddyModule returns the Caddy module information.
func (Noop) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.bench_noop", New: func() caddy.Module { return new(Noop) }}
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (Noop) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	return next.ServeHTTP(w, r)
}

// Wrap passes the request on with the response writer wrapped as
// inubit_sessions wraps it (one allocation holding the wrapper), noting
// the header and counting the body bytes, nothing else.
type Wrap struct{}

// CaddyModule returns the Caddy module information.
func (Wrap) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.bench_wrap", New: func() caddy.Module { return new(Wrap) }}
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (Wrap) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	rw := &countingWriter{}
	rw.wrapper.ResponseWriter = w
	rw.ResponseWriterWrapper = &rw.wrapper
	return next.ServeHTTP(rw, r)
}

type countingWriter struct {
	*caddyhttp.ResponseWriterWrapper
	wrapper     caddyhttp.ResponseWriterWrapper
	wroteHeader bool
	written     int
}

func (w *countingWriter) WriteHeader(status int) {
	w.wroteHeader = true
	w.ResponseWriterWrapper.WriteHeader(status)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriterWrapper.Write(p)
	w.written += n
	return n, err
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = Noop{}
	_ caddyhttp.MiddlewareHandler = Wrap{}
)
