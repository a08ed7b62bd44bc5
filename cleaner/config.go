// Package cleaner delivers INUBIT clear calls: it queues the entry IDs of
// ended browser sessions per user and posts them, off the request path,
// to INUBIT's webapp session-instances endpoint, retrying with backoff
// until INUBIT acknowledges them with 200.
package cleaner

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Separators between entry IDs in the body of a clear call.
const (
	SeparatorNewline = "\n"
	SeparatorComma   = ","
)

// Defaults for the zero values of Config.
const (
	DefaultBatchSize   = 100
	DefaultTimeout     = 30 * time.Second
	DefaultRetryMin    = time.Second
	DefaultRetryMax    = 5 * time.Minute
	DefaultConcurrency = 4
	// DefaultMaintenanceProbe is how often the health check is asked
	// while INUBIT is in maintenance: six requests a minute.
	DefaultMaintenanceProbe = 10 * time.Second
	// DefaultAuthRetry is how often clear calls are tried again while
	// INUBIT refuses the service account.
	DefaultAuthRetry = 5 * time.Minute
)

// Config says where and how to deliver clear calls.
type Config struct {
	// Endpoint is the absolute URL of the clear call, usually
	// http(s)://host:port/ibis/rest/webapp/session/instances. Query
	// parameters already on it (such as userType) are kept; user is set
	// per call.
	Endpoint string
	// Username and Password are the Basic-auth credentials.
	Username string
	Password string
	// Separator joins the IDs of one call: SeparatorNewline (default)
	// or SeparatorComma.
	Separator string
	// BatchSize is the most IDs sent in one call.
	BatchSize int
	// Timeout bounds one call, connection and body included.
	Timeout time.Duration
	// RetryMin and RetryMax bound the exponential backoff after a
	// failed call.
	RetryMin time.Duration
	RetryMax time.Duration
	// Concurrency is how many users' calls may be in flight at once.
	Concurrency int
	// HealthURL is INUBIT's health check, asked without credentials
	// while INUBIT is in maintenance. Default: the endpoint's
	// .../rest/healthcheck.
	HealthURL string
	// MaintenanceProbe is how often HealthURL is asked during
	// maintenance.
	MaintenanceProbe time.Duration
	// AuthRetry is how long to wait after INUBIT refused the
	// credentials before trying again; a Configure retries at once.
	AuthRetry time.Duration
	// Transport sends the calls; nil means a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
}

// Check reports the first setting that cannot work.
func (c Config) Check() error {
	_, _, err := c.withDefaults()
	return err
}

// withDefaults fills zero values and checks the rest.
func (c Config) withDefaults() (Config, *url.URL, error) {
	if c.Endpoint == "" {
		return c, nil, errors.New("endpoint: required")
	}
	u, err := parseEndpoint(c.Endpoint)
	if err != nil {
		return c, nil, err
	}
	switch c.Separator {
	case "":
		c.Separator = SeparatorNewline
	case SeparatorNewline, SeparatorComma:
	default:
		return c, nil, fmt.Errorf("separator: %q is not newline or comma", c.Separator)
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = c.RetryMin
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaintenanceProbe <= 0 {
		c.MaintenanceProbe = DefaultMaintenanceProbe
	}
	if c.AuthRetry <= 0 {
		c.AuthRetry = DefaultAuthRetry
	}
	if c.HealthURL == "" {
		c.HealthURL = healthURLFor(u)
	} else if err := CheckHealthURL(c.HealthURL); err != nil {
		return c, nil, err
	}
	if c.Transport == nil {
		c.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	return c, u, nil
}

// CheckEndpoint reports what is wrong with a clear-call URL, naming the
// endpoint subdirective: it must be an absolute http or https URL without
// credentials (they belong in basic_auth) and without a user parameter.
func CheckEndpoint(raw string) error {
	_, err := parseEndpoint(raw)
	return err
}

func parseEndpoint(raw string) (*url.URL, error) {
	if hasUserinfo(raw) {
		return nil, errors.New("endpoint: put credentials in basic_auth, not in the URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, which is shown on its own.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("endpoint: %q is not an absolute http or https URL: %v", redactedURL(raw), err)
	}
	if u.Query().Has("user") {
		return nil, errors.New("endpoint: remove the user query parameter; it is set per call")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint: %q is not an absolute http or https URL", redactedURL(raw))
	}
	return u, nil
}

// CheckHealthURL reports what is wrong with a health-check URL, naming
// the healthcheck subdirective.
func CheckHealthURL(raw string) error {
	if hasUserinfo(raw) {
		return errors.New("healthcheck: the health check needs no credentials; remove them from the URL")
	}
	if h, err := url.Parse(raw); err != nil || (h.Scheme != "http" && h.Scheme != "https") || h.Host == "" {
		return fmt.Errorf("healthcheck: %q is not an absolute http or https URL", redactedURL(raw))
	}
	return nil
}

// redactedURL is raw for an error message about a URL that is not what
// it should be: everything up to the last '@' before its query is left
// out, as in a malformed URL ("http:/user:password@host") that may be
// credentials hasUserinfo cannot place.
func redactedURL(raw string) string {
	head := raw
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		head = raw[:i]
	}
	if i := strings.LastIndexByte(head, '@'); i >= 0 {
		return "…" + raw[i:]
	}
	return raw
}

// hasUserinfo reports whether a URL names credentials before its host,
// without parsing it: a URL that fails to parse must not end up, with a
// password in it, in an error message.
func hasUserinfo(raw string) bool {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		rest = strings.TrimPrefix(raw, "//")
	}
	authority, _, _ := strings.Cut(rest, "/")
	authority, _, _ = strings.Cut(authority, "?")
	authority, _, _ = strings.Cut(authority, "#")
	return strings.Contains(authority, "@")
}
