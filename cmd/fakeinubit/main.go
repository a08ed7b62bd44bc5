// Command fakeinubit serves the INUBIT emulator of package fakeinubit on
// a loopback port, for rehearsing a Caddy with inubit_sessions before it
// meets the real INUBIT: point the handler's endpoint at it, drive the
// web app, then switch maintenance on, refuse an entry or change the
// service account through its control resources, and read what it was
// sent. It is a test double, not an INUBIT: it answers the clear call and
// the health check as the vendor's documentation describes them.
//
//	INUBIT_PASSWORD=secret go run ./cmd/fakeinubit -listen 127.0.0.1:18000 -account svc
//
// and in the Caddyfile
//
//	endpoint http://127.0.0.1:18000/ibis/rest/webapp/session/instances
//	basic_auth svc {env.INUBIT_PASSWORD}
//
// Control resources, on the same port:
//
//	POST   /fake/maintenance?on=1|0         maintenance mode (503, health check says so)
//	POST   /fake/refuse?id=ID&status=404    refuse calls naming ID (status 0 lifts it)
//	POST   /fake/fail?status=500&n=3        the next n clear calls answer status
//	POST   /fake/account?user=U             set U's password to the request body
//	DELETE /fake/account?user=U             remove account U (its calls get 401)
//	GET    /fake/calls                      the clear calls received (JSON; Authorization redacted)
//	GET    /fake/cleared                    entry IDs acknowledged, per user (JSON)
//
// Every clear call is also logged on standard error: user, IDs, status.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/inubit-caddy/caddy-inubit-sessions/fakeinubit"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18000", "loopback address to serve on")
	account := flag.String("account", "svc", "service account user name; its password is read from INUBIT_PASSWORD")
	profile := flag.String("profile", "9xml", "INUBIT generation to imitate: 8 (HTML error pages), 9xml or 9json (ApiError documents)")
	flag.Parse()
	if err := run(*listen, *account, *profile); err != nil {
		log.Fatalf("fakeinubit: %v", err)
	}
}

func run(listen, account, profileName string) error {
	password := os.Getenv("INUBIT_PASSWORD")
	if password == "" {
		return errors.New("INUBIT_PASSWORD is not set: it is the service account's password (never a flag, which ps would show)")
	}
	profile, err := parseProfile(profileName)
	if err != nil {
		return err
	}
	ln, err := fakeinubit.ListenLoopback(listen)
	if err != nil {
		return err
	}
	logger := log.New(os.Stderr, "fakeinubit: ", log.LstdFlags)
	fake := newFake(profile, account, password, logger)
	srv := &http.Server{Handler: newHandler(fake), ReadHeaderTimeout: 10 * time.Second}
	errs := make(chan error, 1)
	go func() { errs <- srv.Serve(ln) }()
	logger.Printf("INUBIT %s emulated on http://%s (clear call %s, account %q); control under /fake/",
		profile, ln.Addr(), fakeinubit.ClearPath, account)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-stop:
		return srv.Close()
	case err := <-errs:
		return err
	}
}

// parseProfile reads the -profile flag.
func parseProfile(name string) (fakeinubit.Profile, error) {
	switch name {
	case "8":
		return fakeinubit.Profile8, nil
	case "9xml":
		return fakeinubit.Profile9XML, nil
	case "9json":
		return fakeinubit.Profile9JSON, nil
	}
	return 0, fmt.Errorf("-profile %q: want 8, 9xml or 9json", name)
}

// maxPassword bounds a password set through /fake/account.
const maxPassword = 4 << 10

// newFake returns the emulator with one service account, logging every
// clear call it answers.
func newFake(profile fakeinubit.Profile, account, password string, logger *log.Logger) *fakeinubit.Server {
	return fakeinubit.New(profile, map[string]string{account: password},
		fakeinubit.WithClearCallObserver(func(c fakeinubit.ClearCall) {
			logger.Printf("clear call: user %q, IDs %d, answered %d", strings.Join(c.Users, ","), len(c.IDs), c.Status)
		}))
}

// newHandler serves the emulator with the control resources beside it.
func newHandler(fake *fakeinubit.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", fake)
	mux.HandleFunc("POST /fake/maintenance", func(w http.ResponseWriter, r *http.Request) {
		on, err := strconv.ParseBool(r.URL.Query().Get("on"))
		if err != nil {
			controlError(w, "on: want 1 or 0")
			return
		}
		fake.SetMaintenance(on)
		writeJSON(w, map[string]bool{"maintenance": fake.Maintenance()})
	})
	mux.HandleFunc("POST /fake/refuse", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		status, err := strconv.Atoi(r.URL.Query().Get("status"))
		if id == "" || err != nil || (status != 0 && (status < 400 || status > 599)) {
			controlError(w, "want id=ENTRY_ID&status=4xx or 5xx (0 lifts the refusal)")
			return
		}
		fake.RefuseEntry(id, status)
		writeJSON(w, map[string]any{"id": id, "status": status})
	})
	mux.HandleFunc("POST /fake/fail", func(w http.ResponseWriter, r *http.Request) {
		status, err1 := strconv.Atoi(r.URL.Query().Get("status"))
		n, err2 := strconv.Atoi(r.URL.Query().Get("n"))
		if err1 != nil || err2 != nil || status < 400 || status > 599 || n < 1 {
			controlError(w, "want status=4xx or 5xx&n=COUNT (at least 1)")
			return
		}
		fake.FailNext(status, n)
		writeJSON(w, map[string]int{"status": status, "n": n})
	})
	mux.HandleFunc("/fake/account", func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		if user == "" {
			controlError(w, "user: missing")
			return
		}
		switch r.Method {
		case http.MethodPost:
			password, err := io.ReadAll(io.LimitReader(r.Body, maxPassword+1))
			if err != nil || len(password) == 0 || len(password) > maxPassword {
				controlError(w, fmt.Sprintf("the request body is the new password: 1 to %d bytes", maxPassword))
				return
			}
			fake.SetAccount(user, string(password))
			writeJSON(w, map[string]string{"account": user, "password": "set"})
		case http.MethodDelete:
			fake.RemoveAccount(user)
			writeJSON(w, map[string]string{"account": user, "password": "removed"})
		default:
			w.Header().Set("Allow", "POST, DELETE")
			http.Error(w, "use POST or DELETE", http.StatusMethodNotAllowed)
		}
	})
	mux.HandleFunc("GET /fake/calls", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, fake.Calls())
	})
	mux.HandleFunc("GET /fake/cleared", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, fake.Cleared())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func controlError(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
