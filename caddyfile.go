package inubitsessions

import (
	"math"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/inubit-caddy/caddy-inubit-sessions/cleaner"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("inubit_sessions", parseCaddyfile)
	// Before handle: the handler must see every request of a site,
	// including those that handle blocks route elsewhere, and must wrap
	// the response before reverse_proxy writes it. It comes after the
	// authentication directives, so {http.auth.user.id} is known.
	httpcaddyfile.RegisterDirectiveOrder("inubit_sessions", httpcaddyfile.Before, "handle")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(Handler)
	err := handler.UnmarshalCaddyfile(h.Dispenser)
	return handler, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	inubit_sessions [<matcher>] {
//		endpoint       <url>
//		basic_auth     <username> <password>
//		session_cookie <name>
//		session_cookie_path <path>
//		user           <placeholder> [<placeholder>...]
//		fallback_user  <name>
//		logout         <path> [<path>...]
//		idle_timeout   <duration>
//		max_lifetime   <duration>
//		separator      newline|comma
//		id_header      <name> [<name>...]
//		batch_size     <count>
//		timeout        <duration>
//		retry_backoff  <min> <max>
//		concurrency    <count>
//		healthcheck    <url>
//		maintenance_probe <duration>
//		auth_retry     <duration>
//		tls_ca         <pem file>
//		sweep_interval <duration>
//		storage        <directory>
//		max_sessions   <count>
//		max_ids_per_session <count>
//		max_cookie_length <bytes>
//		max_id_length  <bytes>
//		max_scan_bytes <size>
//		max_ids_without_user <count>
//	}
//
// Each subdirective may appear once.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	for d.NextBlock(0) {
		name := d.Val()
		if seen[name] {
			return d.Errf("%s: specified more than once", name)
		}
		seen[name] = true
		if err := h.unmarshalSubdirective(d, name); err != nil {
			return err
		}
	}
	return nil
}

func (h *Handler) unmarshalSubdirective(d *caddyfile.Dispenser, name string) error {
	switch name {
	case "endpoint":
		if err := oneArg(d, name, &h.Endpoint); err != nil {
			return err
		}
		if !strings.Contains(h.Endpoint, "{") { // placeholders expand at load
			return lineErr(d, cleaner.CheckEndpoint(h.Endpoint))
		}

	case "basic_auth":
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.Errf("basic_auth: want <username> <password>, got %d arguments", len(args))
		}
		h.BasicAuth = &BasicAuth{Username: args[0], Password: args[1]}

	case "session_cookie":
		if err := oneArg(d, name, &h.SessionCookie); err != nil {
			return err
		}
		return lineErr(d, checkSessionCookie(h.SessionCookie))

	case "session_cookie_path":
		if err := oneArg(d, name, &h.SessionCookiePath); err != nil {
			return err
		}
		return lineErr(d, checkCookiePath(h.SessionCookiePath))

	case "user":
		if err := listArg(d, name, &h.User); err != nil {
			return err
		}
		for _, p := range h.User {
			if err := checkUserPlaceholder(p); err != nil {
				return d.Err(err.Error())
			}
		}

	case "fallback_user":
		return oneArg(d, name, &h.FallbackUser)

	case "logout":
		if err := listArg(d, name, &h.Logout); err != nil {
			return err
		}
		for _, p := range h.Logout {
			if err := checkLogoutPattern(p); err != nil {
				return d.Err(err.Error())
			}
		}

	case "idle_timeout":
		return durationArg(d, name, &h.IdleTimeout)

	case "max_lifetime":
		return durationArg(d, name, &h.MaxLifetime)

	case "separator":
		if err := oneArg(d, name, &h.Separator); err != nil {
			return err
		}
		if h.Separator != "newline" && h.Separator != "comma" {
			return d.Errf("separator: %q is not newline or comma", h.Separator)
		}

	case "id_header":
		if err := listArg(d, name, &h.IDHeaders); err != nil {
			return err
		}
		for _, header := range h.IDHeaders {
			if err := checkIDHeader(header); err != nil {
				return d.Err(err.Error())
			}
		}

	case "batch_size":
		return countArg(d, name, &h.BatchSize)

	case "timeout":
		return durationArg(d, name, &h.Timeout)

	case "retry_backoff":
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.Errf("retry_backoff: want <min> <max>, got %d arguments", len(args))
		}
		lo, err := caddy.ParseDuration(args[0])
		if err != nil || lo <= 0 {
			return d.Errf("retry_backoff: invalid minimum %q", args[0])
		}
		hi, err := caddy.ParseDuration(args[1])
		if err != nil || hi < lo {
			return d.Errf("retry_backoff: invalid maximum %q (must be a duration not below the minimum)", args[1])
		}
		h.RetryMin, h.RetryMax = caddy.Duration(lo), caddy.Duration(hi)
		return lineErr(d, checkFloor(name, lo))

	case "concurrency":
		return countArg(d, name, &h.Concurrency)

	case "healthcheck":
		if err := oneArg(d, name, &h.HealthCheck); err != nil {
			return err
		}
		if !strings.Contains(h.HealthCheck, "{") {
			return lineErr(d, cleaner.CheckHealthURL(h.HealthCheck))
		}

	case "maintenance_probe":
		return durationArg(d, name, &h.MaintenanceProbe)

	case "auth_retry":
		return durationArg(d, name, &h.AuthRetry)

	case "tls_ca":
		return oneArg(d, name, &h.TLSCA)

	case "sweep_interval":
		return durationArg(d, name, &h.SweepInterval)

	case "storage":
		return oneArg(d, name, &h.Storage)

	case "max_sessions":
		return countArg(d, name, &h.MaxSessions)

	case "max_ids_per_session":
		return countArg(d, name, &h.MaxIDsPerSession)

	case "max_cookie_length":
		return countArg(d, name, &h.MaxCookieLength)

	case "max_id_length":
		if err := countArg(d, name, &h.MaxIDLength); err != nil {
			return err
		}
		return lineErr(d, checkMaxIDLength(h.MaxIDLength))

	case "max_ids_without_user":
		return countArg(d, name, &h.MaxIDsWithoutUser)

	case "max_scan_bytes":
		return sizeArg(d, name, &h.MaxScanBytes)

	default:
		return d.Errf("unrecognized subdirective %q", name)
	}
	return nil
}

// oneArg reads exactly one argument.
func oneArg(d *caddyfile.Dispenser, name string, dst *string) error {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return d.Errf("%s: want exactly one argument, got %d", name, len(args))
	}
	*dst = args[0]
	return nil
}

// listArg reads one or more arguments.
func listArg(d *caddyfile.Dispenser, name string, dst *[]string) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.Errf("%s: want at least one argument", name)
	}
	*dst = args
	return nil
}

// durationArg reads one positive duration such as 30m or 1h30m.
func durationArg(d *caddyfile.Dispenser, name string, dst *caddy.Duration) error {
	var raw string
	if err := oneArg(d, name, &raw); err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(raw)
	if err != nil {
		return d.Errf("%s: invalid duration %q: %v", name, raw, err)
	}
	if dur <= 0 {
		return d.Errf("%s: duration must be positive, got %q", name, raw)
	}
	*dst = caddy.Duration(dur)
	return lineErr(d, checkFloor(name, dur))
}

// lineErr gives err the position of the dispenser's current token.
func lineErr(d *caddyfile.Dispenser, err error) error {
	if err == nil {
		return nil
	}
	return d.Err(err.Error())
}

// countArg reads one positive integer.
func countArg(d *caddyfile.Dispenser, name string, dst *int) error {
	var raw string
	if err := oneArg(d, name, &raw); err != nil {
		return err
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		return d.Errf("%s: want a positive integer, got %q", name, raw)
	}
	*dst = n
	return nil
}

// sizeArg reads one positive size such as 16MiB, 500kB or 1048576.
func sizeArg(d *caddyfile.Dispenser, name string, dst *int64) error {
	var raw string
	if err := oneArg(d, name, &raw); err != nil {
		return err
	}
	n, err := humanize.ParseBytes(raw)
	if err != nil || n == 0 || n > math.MaxInt64 {
		return d.Errf("%s: want a positive size such as 16MiB, got %q", name, raw)
	}
	*dst = int64(n)
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
