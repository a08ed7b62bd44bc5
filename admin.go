package inubitsessions

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// adminPrefix starts the admin routes of this module.
const adminPrefix = "/inubit_sessions/"

// AdminAPI adds routes for inubit_sessions to Caddy's admin endpoint
// (localhost:2019 by default): the status of every storage in use, a
// retry of delivery that does not wait out backoff or pauses, and the
// release of parked entries. Caddy loads every admin.api module by
// itself; this one has no configuration.
//
//	GET  /inubit_sessions/status[?storage=DIR]
//	POST /inubit_sessions/retry[?storage=DIR]
//	POST /inubit_sessions/release[?storage=DIR]  {"id": "...", "user": "..."} or {"all": true}
//
// Answers hold user names and entry IDs, never a password, a cookie
// value or a session key.
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.inubit_sessions",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Routes returns the module's admin routes. The admin endpoint is set
// up before the handlers of its config are provisioned, so each request
// looks up the states that are running at that moment.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: adminPrefix, Handler: caddy.AdminHandlerFunc(a.serve)}}
}

// adminAction is one route: its method and what it does.
type adminAction struct {
	method string
	serve  func(w http.ResponseWriter, r *http.Request, selected []*state) error
}

var adminActions = map[string]adminAction{
	"status":  {http.MethodGet, serveStatus},
	"retry":   {http.MethodPost, serveRetry},
	"release": {http.MethodPost, serveRelease},
}

func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(r.URL.Path, adminPrefix)
	action, ok := adminActions[name]
	if !ok {
		return adminError(http.StatusNotFound,
			"no route %s; there are %sstatus (GET), %sretry and %srelease (POST)",
			r.URL.Path, adminPrefix, adminPrefix, adminPrefix)
	}
	if r.Method != action.method {
		w.Header().Set("Allow", action.method)
		return adminError(http.StatusMethodNotAllowed, "%s takes %s, not %s", r.URL.Path, action.method, r.Method)
	}
	selected, err := selectStates(r.URL.Query().Get("storage"))
	if err != nil {
		return err
	}
	return action.serve(w, r, selected)
}

// runningStates returns the state of every storage in use, ordered by
// storage directory.
func runningStates() []*state {
	var out []*state
	states.Range(func(_, value any) bool {
		if st, ok := value.(*state); ok {
			out = append(out, st)
		}
		return true
	})
	slices.SortFunc(out, func(a, b *state) int { return strings.Compare(a.dir, b.dir) })
	return out
}

// selectStates returns the running state of storage, or all running
// states if storage is empty.
func selectStates(storage string) ([]*state, error) {
	all := runningStates()
	if storage == "" {
		return all, nil
	}
	want := filepath.Clean(storage)
	dirs := make([]string, 0, len(all))
	for _, st := range all {
		if st.dir == want {
			return []*state{st}, nil
		}
		dirs = append(dirs, st.dir)
	}
	return nil, adminError(http.StatusNotFound, "storage: no running inubit_sessions uses %q; in use: %s",
		storage, strings.Join(dirs, ", "))
}

// adminError is an answer with status and a message, which Caddy's
// admin endpoint sends as {"error": message}.
func adminError(status int, format string, args ...any) error {
	return caddy.APIError{HTTPStatus: status, Err: fmt.Errorf(format, args...)}
}

// writeJSON sends v as the answer.
func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Interface guards
var (
	_ caddy.Module      = (*AdminAPI)(nil)
	_ caddy.AdminRouter = (*AdminAPI)(nil)
)
