// Package benchcalib holds handlers that do nothing useful, for
// calibrating scripts/bench.sh: what one more handler in the route costs
// (bench_noop), what wrapping the response writer the way
// inubit_sessions does costs (bench_wrap), and whether a known amount of
// CPU per request shows up as that much in the benchmark's figures
// (bench_burn DURATION spins that long per request). They are built only
// into cmd/benchcaddy, never into the module users build with xcaddy.
package benchcalib

import (
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(Noop{})
	caddy.RegisterModule(Wrap{})
	caddy.RegisterModule(Burn{})
	httpcaddyfile.RegisterHandlerDirective("bench_noop", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		h.Next()
		return Noop{}, nil
	})
	httpcaddyfile.RegisterHandlerDirective("bench_wrap", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		h.Next()
		return Wrap{}, nil
	})
	httpcaddyfile.RegisterHandlerDirective("bench_burn", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		h.Next()
		if !h.NextArg() {
			return nil, h.ArgErr()
		}
		d, err := caddy.ParseDuration(h.Val())
		if err != nil {
			return nil, h.Errf("bench_burn: %v", err)
		}
		return Burn{Duration: caddy.Duration(d)}, nil
	})
	httpcaddyfile.RegisterDirectiveOrder("bench_burn", httpcaddyfile.Before, "header")
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

// Burn spins on the CPU for Duration, then passes the request on.
type Burn struct {
	// Duration of CPU spent per request, e.g. 2us.
	Duration caddy.Duration `json:"duration,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Burn) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.bench_burn", New: func() caddy.Module { return new(Burn) }}
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (b Burn) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	spin(time.Duration(b.Duration))
	return next.ServeHTTP(w, r)
}

// spin keeps the CPU busy for d, reading the monotonic clock.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// Interface guards
var (
	_ caddyhttp.MiddlewareHandler = Noop{}
	_ caddyhttp.MiddlewareHandler = Wrap{}
	_ caddyhttp.MiddlewareHandler = Burn{}
)
