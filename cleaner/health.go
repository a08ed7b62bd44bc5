package cleaner

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"
)

// clearPathSuffix ends the documented path of the clear call.
const clearPathSuffix = "/rest/webapp/session/instances"

// healthURLFor derives INUBIT's health check from the clear endpoint:
// the same prefix with /rest/healthcheck, else /ibis/rest/healthcheck on
// the same host.
func healthURLFor(endpoint *url.URL) string {
	u := url.URL{Scheme: endpoint.Scheme, Host: endpoint.Host, Path: "/ibis/rest/healthcheck"}
	if prefix, ok := strings.CutSuffix(strings.TrimSuffix(endpoint.Path, "/"), clearPathSuffix); ok {
		u.Path = prefix + "/rest/healthcheck"
	}
	return u.String()
}

// maintenanceOn reads a health-check answer: 503 (INUBIT 7.4 and 8.0)
// or a maintenancemode of 1, "1" or true (8.1 on). Any other answer,
// including one that cannot be read, does not hold delivery back: the
// next clear call finds out.
func maintenanceOn(status int, body []byte) bool {
	if status == http.StatusServiceUnavailable {
		return true
	}
	if status != http.StatusOK {
		return false
	}
	var doc struct {
		MaintenanceMode any `json:"maintenancemode"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return false
	}
	switch v := doc.MaintenanceMode.(type) {
	case string:
		v = strings.TrimSpace(v)
		return v == "1" || strings.EqualFold(v, "true")
	case float64:
		return v != 0
	case bool:
		return v
	}
	return false
}

// probe asks the health check once and opens the gate if maintenance
// is over.
func (c *Cleaner) probe(ctx context.Context) {
	c.mu.Lock()
	cfg, client := c.cfg, c.client
	c.mu.Unlock()

	on, err := c.askHealth(ctx, cfg, client)
	c.mu.Lock()
	c.gate.probing = false
	if err == nil && !on {
		c.gate.leaveMaintenance()
		now := c.now()
		for _, u := range c.users {
			u.due = now
		}
	} else {
		c.gate.until = c.now().Add(cfg.MaintenanceProbe)
	}
	c.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		c.logger.Debug("health check failed during maintenance", zap.Error(err))
	}
	c.signal()
}

func (c *Cleaner) askHealth(ctx context.Context, cfg Config, client *http.Client) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.HealthURL, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	// The health check needs no authentication: send none.
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return maintenanceOn(resp.StatusCode, body), nil
}
