package cleaner

import (
	"time"

	"go.uber.org/zap"
)

// gate holds all clear calls back while INUBIT cannot take them: during
// maintenance (503), only the health check is asked, every
// MaintenanceProbe; while the service account is refused (401/403),
// calls are tried again after AuthRetry, or at once after Configure.
// Its fields are guarded by the Cleaner's mutex.
type gate struct {
	logger  *zap.Logger
	reason  string    // "", "maintenance" or "auth"
	until   time.Time // closed until then
	probing bool      // a health check is in flight

	// lastAuthLog is when a refusal of the service account was last
	// logged; zero once a call succeeded. It outlives a pause lifted by
	// RetryNow or Configure, so the success after the fix is logged.
	lastAuthLog time.Time
}

const (
	gateMaintenance = "maintenance"
	gateAuth        = "auth"
)

// closedFor returns how long calls must wait, and whether a health
// check is due now.
func (g *gate) closedFor(now time.Time) (time.Duration, bool) {
	if g.reason == "" {
		return 0, false
	}
	if d := g.until.Sub(now); d > 0 || g.probing {
		return max(d, 10*time.Millisecond), false
	}
	if g.reason == gateMaintenance {
		return 10 * time.Millisecond, true
	}
	return 0, false // auth: let the next calls try again
}

func (g *gate) enterMaintenance(now time.Time, probe time.Duration) {
	if g.reason != gateMaintenance {
		g.logger.Warn("INUBIT is in maintenance mode (503); clear calls paused, asking its health check instead",
			zap.Duration("probe_interval", probe))
	}
	g.reason, g.until = gateMaintenance, now.Add(probe)
}

func (g *gate) leaveMaintenance() {
	if g.reason == gateMaintenance {
		g.logger.Info("INUBIT maintenance is over; resuming clear calls")
		g.reason = ""
	}
}

func (g *gate) refuseAuth(now time.Time, retry time.Duration, username string, status int) {
	if g.lastAuthLog.IsZero() || now.Sub(g.lastAuthLog) >= retry {
		g.logger.Error("INUBIT refuses the service account; fix basic_auth (check the variable or file "+
			"its password placeholder names), then `caddy reload --force` (or restart for {env.*}). "+
			"Entries are kept and tried again later",
			zap.String("username", username), zap.Int("status", status), zap.Duration("retry_in", retry))
		g.lastAuthLog = now
	}
	g.reason, g.until = gateAuth, now.Add(retry)
}

// opened records a successful call.
func (g *gate) opened() {
	if !g.lastAuthLog.IsZero() {
		g.logger.Info("INUBIT accepts the service account again")
	}
	if g.reason != gateMaintenance {
		g.reason = ""
	}
	g.lastAuthLog = time.Time{}
}

// lift opens the gate at once, whatever held it, and returns what did.
func (g *gate) lift() string {
	was := g.reason
	g.reason, g.until = "", time.Time{}
	return was
}

// reconfigured lets calls go at once after new settings arrive: new
// credentials may be what was missing.
func (g *gate) reconfigured() {
	switch g.reason {
	case gateAuth:
		g.reason = ""
	case gateMaintenance:
		g.until = time.Time{}
	}
}
