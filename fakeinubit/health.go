package fakeinubit

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// healthBody is the health check document. MaintenanceMode holds "0" or
// "1", or the numbers 0 or 1 under WithNumericMaintenanceMode.
type healthBody struct {
	Status          string `json:"status"`
	MaintenanceMode any    `json:"maintenancemode"`
	Timestamp       string `json:"timestamp"`
}

// serveHealthcheck answers the health check; it needs no credentials.
func (s *Server) serveHealthcheck(w http.ResponseWriter, r *http.Request) {
	if !allowRead(w, r) {
		s.writeError(w, r, http.StatusMethodNotAllowed, "only GET is allowed here")
		return
	}
	s.mu.Lock()
	s.healthchecks++
	maint := s.maintenance
	s.notifyLocked()
	s.mu.Unlock()

	doc := healthBody{Status: "OK", MaintenanceMode: "0", Timestamp: javaDate(s.now())}
	status := http.StatusOK
	if maint {
		doc.MaintenanceMode = "1"
		if s.health503 {
			doc.Status = "ERROR"
			status = http.StatusServiceUnavailable
		}
	}
	if s.healthNumeric {
		doc.MaintenanceMode = 0
		if maint {
			doc.MaintenanceMode = 1
		}
	}
	body, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("encoding health check: %v", err))
	}
	if s.healthTypo {
		w.Header().Set("Content-Tye", "application/json")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// serveReady answers the readiness probe: READY, or NOT READY while
// maintenance mode is on.
func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && !allowRead(w, r) {
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.writeError(w, r, http.StatusMethodNotAllowed, "only GET or POST is allowed here")
		return
	}
	s.mu.Lock()
	s.readies++
	maint := s.maintenance
	s.notifyLocked()
	s.mu.Unlock()

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if maint {
		w.WriteHeader(s.notReadyStatus)
		_, _ = w.Write([]byte("NOT READY"))
		return
	}
	_, _ = w.Write([]byte("READY"))
}

// allowRead reports whether r is a GET or HEAD; if not it sets Allow.
func allowRead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	return false
}
