package inubitsessions

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// caddyMetricLabels are the Caddy metrics the dashboard may use, with
// their labels, as Caddy v2.11.9 defines them: modules/caddyhttp/metrics.go
// (the caddy_http_* series exist only with the metrics option; host only
// with per_host) and metrics.go (config reloads). Histograms appear with
// their _bucket, _sum and _count series.
var caddyMetricLabels = map[string][]string{
	"caddy_http_requests_total":                          httpLabels,
	"caddy_http_request_errors_total":                    httpLabels,
	"caddy_http_requests_in_flight":                      httpLabels,
	"caddy_http_request_duration_seconds_count":          slices.Concat(httpLabels, statusLabels),
	"caddy_http_request_duration_seconds_sum":            slices.Concat(httpLabels, statusLabels),
	"caddy_http_request_duration_seconds_bucket":         slices.Concat(httpLabels, statusLabels, []string{"le"}),
	"caddy_config_last_reload_successful":                {},
	"caddy_config_last_reload_success_timestamp_seconds": {},
}

// httpLabels are the labels of every caddy_http_* metric; statusLabels
// those the histograms add.
var (
	httpLabels   = []string{"server", "handler", "host"}
	statusLabels = []string{"code", "method"}
)

// targetLabels are added by Prometheus to every scraped series.
var targetLabels = []string{"job", "instance"}

// knownMetrics maps every metric name the dashboard may use to its label
// names and the label values seen. The plugin's come from its collector,
// registered by a provisioned handler; every label value of theirs is
// reported from the start.
func knownMetrics(t *testing.T) map[string]map[string][]string {
	t.Helper()
	_, srv := newStubINUBIT(t)
	h := &Handler{Endpoint: srv.URL, Storage: t.TempDir()}
	reg, _ := provisionLoaded(t, h)
	families, err := reg.Gather()
	require.NoError(t, err)

	known := make(map[string]map[string][]string)
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), metricsPrefix) {
			continue // Go and process collectors, if the registry has them
		}
		labels := make(map[string][]string)
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = append(labels[lp.GetName()], lp.GetValue())
			}
		}
		known[f.GetName()] = labels
	}
	require.Len(t, known, len(allDescs), "one family per metric of metrics.go")
	for name, labels := range caddyMetricLabels {
		known[name] = make(map[string][]string)
		for _, l := range labels {
			known[name][l] = nil // any value
		}
	}
	for _, labels := range known {
		for _, l := range targetLabels {
			labels[l] = nil
		}
	}
	return known
}

type dashboardPanel struct {
	Type        string           `json:"type"`
	Title       string           `json:"title"`
	Description string           `json:"description"`
	Panels      []dashboardPanel `json:"panels"`
	Datasource  *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

type dashboard struct {
	SchemaVersion int              `json:"schemaVersion"`
	Panels        []dashboardPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// labelValuesQuery is a Prometheus template variable query.
var labelValuesQuery = regexp.MustCompile(`^label_values\((\w+)(\{.*\})?, *(\w+)\)$`)

// examples/grafana-dashboard.json uses only metrics and labels that exist,
// shows every metric of the plugin, and tells the operator what each
// panel means.
func TestExampleDashboard(t *testing.T) {
	known := knownMetrics(t)
	body, err := os.ReadFile(filepath.Join("examples", "grafana-dashboard.json"))
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(body, &d))
	assert.GreaterOrEqual(t, d.SchemaVersion, 36)

	vars := make(map[string]string)
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if q, ok := v.Query.(map[string]any); ok {
			m := labelValuesQuery.FindStringSubmatch(q["query"].(string))
			require.NotNil(t, m, "variable %s: want label_values(metric, label)", v.Name)
			assert.Contains(t, known, m[1], "variable %s", v.Name)
			assert.Contains(t, known[m[1]], m[3], "variable %s", v.Name)
		}
	}
	assert.Equal(t, map[string]string{"datasource": "datasource", "job": "query", "instance": "query"},
		vars)

	used := make(map[string]bool)
	var walk func(panels []dashboardPanel)
	walk = func(panels []dashboardPanel) {
		for _, p := range panels {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			assert.NotEmpty(t, p.Description, "panel %q needs a description", p.Title)
			require.NotNil(t, p.Datasource, "panel %q", p.Title)
			assert.Equal(t, "${datasource}", p.Datasource.UID, "panel %q", p.Title)
			require.NotEmpty(t, p.Targets, "panel %q", p.Title)
			for _, tg := range p.Targets {
				assert.NotEmpty(t, tg.RefID, "panel %q", p.Title)
				for _, sel := range []string{`job=~"$job"`, `instance=~"$instance"`} {
					assert.Contains(t, tg.Expr, sel, "panel %q", p.Title)
				}
				names, problems := checkPromQL(tg.Expr, known)
				assert.Empty(t, problems, "panel %q: %s", p.Title, tg.Expr)
				for _, n := range names {
					used[n] = true
				}
			}
		}
	}
	walk(d.Panels)

	for name := range known {
		if strings.HasPrefix(name, metricsPrefix) {
			assert.True(t, used[name], "no panel shows %s", name)
		}
	}
	assert.True(t, used["caddy_http_requests_total"], "no panel shows Caddy's request rate")
}
