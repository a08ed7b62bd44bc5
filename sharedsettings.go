package inubitsessions

import (
	"fmt"
	"strconv"
)

// Handlers that name the same storage share one state: its sessions,
// their timeouts and limits, and one delivery queue with its settings.
// Within one config they must therefore agree on every subdirective that
// applies to the state, or the one provisioned last would silently set
// them for all (a site's idle_timeout 1h cut short by another site's
// 30m). A reload may change them: its handlers belong to another config.

// sharedSetting is one subdirective that applies to a whole storage, with
// its value in a handler; secret values are compared but never shown.
type sharedSetting struct {
	name, value string
	secret      bool
}

// sharedSettings lists a handler's values of the subdirectives that apply
// to its storage.
func (a *attachment) sharedSettings() []sharedSetting {
	c, t := a.cfg, a.ts
	return []sharedSetting{
		{name: "endpoint", value: c.Endpoint},
		{name: "basic_auth user", value: c.Username},
		{name: "basic_auth password", value: c.Password, secret: true},
		{name: "separator", value: c.Separator},
		{name: "batch_size", value: strconv.Itoa(c.BatchSize)},
		{name: "timeout", value: c.Timeout.String()},
		{name: "retry_backoff", value: c.RetryMin.String() + " " + c.RetryMax.String()},
		{name: "concurrency", value: strconv.Itoa(c.Concurrency)},
		{name: "healthcheck", value: c.HealthURL},
		{name: "maintenance_probe", value: c.MaintenanceProbe.String()},
		{name: "auth_retry", value: c.AuthRetry.String()},
		{name: "tls_ca", value: a.tlsCA},
		{name: "idle_timeout", value: t.limits.IdleTimeout.String()},
		{name: "max_lifetime", value: t.limits.MaxLifetime.String()},
		{name: "max_sessions", value: strconv.Itoa(t.limits.MaxSessions)},
		{name: "max_ids_per_session", value: strconv.Itoa(t.limits.MaxIDsPerSession)},
		{name: "sweep_interval", value: t.sweepInterval.String()},
		{name: "fallback_user", value: t.fallbackUser},
		{name: "max_ids_without_user", value: strconv.Itoa(t.maxWithoutUser)},
	}
}

// conflictWith returns an error naming the first subdirective on which a
// and other, handlers of one config sharing dir, disagree; nil if none.
func (a *attachment) conflictWith(other *attachment, dir string) error {
	mine, theirs := a.sharedSettings(), other.sharedSettings()
	for i := range mine {
		if mine[i].value == theirs[i].value {
			continue
		}
		differs := fmt.Sprintf("%s %q, this one %q", mine[i].name, theirs[i].value, mine[i].value)
		if mine[i].secret {
			differs = "another " + mine[i].name
		}
		return fmt.Errorf("storage: another inubit_sessions handler of this config uses the same storage (%s) "+
			"with %s; handlers sharing a storage share its sessions and its delivery, so they must agree: "+
			"give one of them its own storage, or make the values equal", dir, differs)
	}
	return nil
}
