package inubitsessions

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/inubit-caddy/caddy-inubit-sessions/cleaner"
)

// Metric names start with caddy_inubit_sessions_, next to Caddy's own
// caddy_http_ and caddy_reverse_proxy_ metrics.
func metricName(name string) string {
	return prometheus.BuildFQName("caddy", "inubit_sessions", name)
}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(metricName(name), help, labels, nil)
}

var (
	descSessions = newDesc("sessions_tracked", "Browser sessions tracked now.")
	descIDsFound = newDesc("ids_collected_total",
		"Entry IDs found in the traffic, by where; an ID seen on several requests counts each time.", "source")
	descEnded = newDesc("sessions_ended_total", "Browser sessions ended, by reason.", "reason")
	descCalls = newDesc("clear_calls_total",
		"Clear calls made to INUBIT, by INUBIT's status code, or timeout or error when none came.", "status")
	descCleared     = newDesc("ids_cleared_total", "Entry IDs INUBIT acknowledged as cleared.")
	descPending     = newDesc("ids_pending", "Entry IDs queued for a clear call.")
	descWithoutUser = newDesc("ids_without_user",
		"Entry IDs kept but not sent: their session showed no user and no fallback_user is set.")
	descParked = newDesc("ids_parked",
		"Entry IDs parked after INUBIT kept refusing them; the admin API lists and releases them.")
	descOldest = newDesc("oldest_pending_seconds",
		"Seconds since the longest-waiting user's clear queue was last empty; 0 when none is pending.")
	descMaintenance = newDesc("inubit_maintenance",
		"1 while clear calls are paused because INUBIT is in maintenance mode, else 0.")
	descAuthRefused = newDesc("auth_refused",
		"1 while clear calls are paused because INUBIT refused the service account, else 0.")
	descRefused = newDesc("inputs_refused_total", "Inputs refused or passed over, by kind.", "kind")

	allDescs = []*prometheus.Desc{descSessions, descIDsFound, descEnded, descCalls, descCleared,
		descPending, descWithoutUser, descParked, descOldest, descMaintenance, descAuthRefused, descRefused}
)

// seededStatuses are the clear-call outcomes reported from the start, at
// zero, so that rates over them work before the first such call.
var seededStatuses = []string{
	"200", "401", "403", "404", "500", "503", cleaner.OutcomeTimeout, cleaner.OutcomeError,
}

// stateCollector reports the states that one config's handlers use, on
// that config's metrics registry. Caddy makes a new registry for every
// config load while the states, and the counts in them, carry over: so
// every registry gets its own collector, and the numbers stay monotonic
// across reloads. With several states (several storages), counts and
// gauges are summed; the pause gauges are 1 if any state is paused.
type stateCollector struct {
	now    func() time.Time
	mu     sync.Mutex
	states []*state
}

// registerMetrics puts the handler's state on the metrics registry of
// its config. A registration failure is logged, not returned: the
// handler works without metrics.
func (h *Handler) registerMetrics(ctx caddy.Context) {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return
	}
	if err := registerState(reg, h.state); err != nil {
		h.logger.Error("metrics: cannot register caddy_inubit_sessions_* on Caddy's registry; "+
			"they are missing from /metrics", zap.Error(err))
	}
}

// registerState adds st to the collector on reg, registering one if the
// registry has none yet.
func registerState(reg prometheus.Registerer, st *state) error {
	c := &stateCollector{now: time.Now, states: []*state{st}}
	err := reg.Register(c)
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) {
		return err
	}
	existing, ok := already.ExistingCollector.(*stateCollector)
	if !ok {
		return err
	}
	existing.add(st)
	return nil
}

func (c *stateCollector) add(st *state) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.states, st) {
		c.states = append(c.states, st)
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector. It reads memory only, never
// the store, so a scrape costs no disk access.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	states := slices.Clone(c.states)
	c.mu.Unlock()

	sessions := 0
	var found [sourceCount]uint64
	var ended [len(endReasons) + 1]uint64
	var refused [refusalKinds]int64
	var idsPerSession int64
	calls := make(map[string]uint64, len(seededStatuses))
	for _, s := range seededStatuses {
		calls[s] = 0
	}
	var total cleaner.Stats
	var oldest time.Time
	maintenance, authRefused := 0.0, 0.0
	for _, st := range states {
		sessions += st.tracker.Len()
		for i := range found {
			found[i] += st.counts.collected[i].Load()
		}
		for i := range ended {
			ended[i] += st.counts.ended[i].Load()
		}
		for i := range refused {
			refused[i] += st.refused[i].Load()
		}
		idsPerSession += st.tracker.Counts().RefusedIDs
		s := st.cleaner.Stats()
		for status, n := range s.Calls {
			calls[status] += n
		}
		total.Cleared += s.Cleared
		total.Pending += s.Pending
		total.WithoutUser += s.WithoutUser
		total.Parked += s.Parked
		if !s.OldestPending.IsZero() && (oldest.IsZero() || s.OldestPending.Before(oldest)) {
			oldest = s.OldestPending
		}
		switch s.Paused {
		case cleaner.PauseMaintenance:
			maintenance = 1
		case cleaner.PauseAuth:
			authRefused = 1
		}
	}

	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descSessions, float64(sessions))
	for i, name := range sourceNames {
		counter(descIDsFound, found[i], name)
	}
	for i, reason := range endReasons {
		counter(descEnded, ended[i], string(reason))
	}
	counter(descEnded, ended[len(endReasons)], reasonOther)
	for status, n := range calls {
		counter(descCalls, n, status)
	}
	counter(descCleared, total.Cleared)
	gauge(descPending, float64(total.Pending))
	gauge(descWithoutUser, float64(total.WithoutUser))
	gauge(descParked, float64(total.Parked))
	age := 0.0
	if !oldest.IsZero() {
		age = max(c.now().Sub(oldest).Seconds(), 0)
	}
	gauge(descOldest, age)
	gauge(descMaintenance, maintenance)
	gauge(descAuthRefused, authRefused)
	for i, name := range refusalNames {
		counter(descRefused, uint64(max(refused[i], 0)), name)
	}
	counter(descRefused, uint64(max(idsPerSession, 0)), refusedIDsPerSession)
}

// Interface guards
var _ prometheus.Collector = (*stateCollector)(nil)
