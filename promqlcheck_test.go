package inubitsessions

// A small checker for the PromQL of examples/grafana-dashboard.json: it
// finds metric, function and label names that do not exist, without
// pulling in the Prometheus server module for its parser.

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The checker itself finds the mistakes it is there for.
func TestCheckPromQLFindsMistakes(t *testing.T) {
	known := map[string]map[string][]string{
		"caddy_inubit_sessions_sessions_ended_total": {
			"reason": {"logout", "evicted"}, "job": nil, "instance": nil,
		},
		"caddy_inubit_sessions_ids_pending": {"job": nil, "instance": nil},
	}
	for _, tc := range []struct {
		name, expr, problem string
	}{
		{"fine", `sum by (reason) (rate(caddy_inubit_sessions_sessions_ended_total{job=~"$job", ` +
			`reason=~"evicted|logout"}[$__rate_interval])) > bool 0`, ""},
		{"misspelt metric", `sum(caddy_inubit_sessions_id_pending)`, "unknown metric"},
		{"unknown label in matcher", `caddy_inubit_sessions_ids_pending{user="a"}`, "unknown label"},
		{"unknown label in by", `sum by (status) (caddy_inubit_sessions_ids_pending)`, "unknown label"},
		{"unknown label value", `caddy_inubit_sessions_sessions_ended_total{reason="evict"}`, "no value"},
		{"regex matching no value", `caddy_inubit_sessions_sessions_ended_total{reason=~"ev"}`, "no value"},
		{"unknown function", `rates(caddy_inubit_sessions_ids_pending[5m])`, "unknown function"},
		{"selector without name", `{job="caddy"}`, "without a metric name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := checkPromQL(tc.expr, known)
			if tc.problem == "" {
				assert.Empty(t, problems)
				return
			}
			require.NotEmpty(t, problems)
			assert.Contains(t, strings.Join(problems, "; "), tc.problem)
		})
	}
}

// promqlFunctions are the PromQL functions and aggregations the dashboard
// may call.
var promqlFunctions = []string{
	"sum", "max", "min", "avg", "count", "topk", "rate", "irate", "increase", "delta", "deriv",
	"histogram_quantile", "clamp_min", "clamp_max", "max_over_time", "min_over_time",
	"avg_over_time", "last_over_time", "changes", "resets", "absent", "vector", "time",
}

// promqlGrouping are the PromQL keywords that a label list follows;
// promqlKeywords the other words that name neither a metric nor a
// function.
var (
	promqlGrouping = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
	promqlKeywords = []string{"and", "or", "unless", "bool", "offset"}
)

// promqlToken matches one token of a PromQL expression with Grafana
// variables: a string, a variable, a duration or number, a name, an
// operator or bracket.
var promqlToken = regexp.MustCompile(`"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|` +
	`\$\{[^}]*\}|\$\w+|\d+(?:\.\d+)?[a-z]*|[A-Za-z_:][\w:]*|=~|!~|!=|==|>=|<=|[-+*/%^<>=(){}\[\],]`)

// checkPromQL returns the metric names expr selects and what is wrong with
// it: unknown metrics, functions or labels, and label matchers that no
// reported value satisfies. It is a tokenizer, not a full PromQL parser:
// enough for the dashboard's expressions, and strict about names.
func checkPromQL(expr string, known map[string]map[string][]string) (names, problems []string) {
	var toks []string
	last := 0
	for _, loc := range promqlToken.FindAllStringIndex(expr, -1) {
		if strings.TrimSpace(expr[last:loc[0]]) != "" {
			return nil, []string{"unexpected characters " + expr[last:loc[0]]}
		}
		toks = append(toks, expr[loc[0]:loc[1]])
		last = loc[1]
	}
	if strings.TrimSpace(expr[last:]) != "" {
		return nil, []string{"unexpected characters " + expr[last:]}
	}
	var grouping []string
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		next := ""
		if i+1 < len(toks) {
			next = toks[i+1]
		}
		switch {
		case tok == "[": // range or subquery: skip to its end
			for i < len(toks) && toks[i] != "]" {
				i++
			}
		case tok == "{":
			problems = append(problems, "selector without a metric name")
		case slices.Contains(promqlGrouping, tok) && next == "(":
			for i += 2; i < len(toks) && toks[i] != ")"; i++ {
				if toks[i] != "," {
					grouping = append(grouping, toks[i])
				}
			}
		case slices.Contains(promqlKeywords, tok):
		case isPromQLName(tok) && (next == "(" || next == "by" || next == "without"):
			if !slices.Contains(promqlFunctions, tok) {
				problems = append(problems, "unknown function "+tok)
			}
		case isPromQLName(tok):
			names = append(names, tok)
			labels, ok := known[tok]
			if !ok {
				problems = append(problems, "unknown metric "+tok)
			}
			if next == "{" {
				var p []string
				i, p = checkMatchers(toks, i+2, tok, labels)
				if ok {
					problems = append(problems, p...)
				}
			}
		}
	}
	for _, l := range grouping {
		found := false
		for _, n := range names {
			_, has := known[n][l]
			found = found || has
		}
		if !found {
			problems = append(problems, "unknown label "+l+" in a grouping")
		}
	}
	return names, problems
}

// checkMatchers reads the label matchers of metric from toks[i:] up to
// the closing brace, and returns the brace's index and the problems.
func checkMatchers(toks []string, i int, metric string, labels map[string][]string,
) (int, []string) {
	var problems []string
	for ; i < len(toks) && toks[i] != "}"; i++ {
		if toks[i] == "," {
			continue
		}
		if i+2 >= len(toks) {
			return i, append(problems, "unterminated label matchers of "+metric)
		}
		label, op, quoted := toks[i], toks[i+1], toks[i+2]
		i += 2
		values, ok := labels[label]
		if !ok {
			problems = append(problems, "unknown label "+label+" of "+metric)
			continue
		}
		value := strings.Trim(quoted, `"'`)
		if values == nil || strings.Contains(value, "$") || strings.HasPrefix(op, "!") {
			continue // any value, a Grafana variable, or a negation
		}
		match := func(v string) bool { return v == value }
		if op == "=~" {
			rx, err := regexp.Compile("^(?:" + value + ")$")
			if err != nil {
				problems = append(problems, "bad regular expression "+quoted)
				continue
			}
			match = rx.MatchString
		}
		if !slices.ContainsFunc(values, match) {
			problems = append(problems, label+op+quoted+": no value of "+metric+" matches")
		}
	}
	return i, problems
}

func isPromQLName(tok string) bool {
	c := tok[0]
	return c == '_' || c == ':' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}
