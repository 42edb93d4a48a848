package fakegce

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
)

// HealthReport is one probe result a data plane reports through
// PUT /admin/v1/health: the state of one instance by one health check.
type HealthReport struct {
	HealthCheck string `json:"healthCheck"` // link or path of an httpHealthCheck or healthCheck
	Instance    string `json:"instance"`    // link or path of the instance
	HealthState string `json:"healthState"` // HEALTHY or UNHEALTHY
	// IPVersion is IPV6 for a check over IPv6 (of the backends of an IPv6
	// forwarding rule), which backendServices.getHealth answers as the
	// backend's ipv6HealthState; empty or IPV4 otherwise.
	IPVersion string `json:"ipVersion,omitempty"`
}

// reportedHealth holds the probe results of the packet lab's data plane, by
// health check path, instance path and IP family. When a result is there,
// targetPools.getHealth and backendServices.getHealth answer it instead of
// the default (a running instance is healthy). It is not part of the
// persisted state: the prober reports again after a restart.
type reportedHealth struct {
	mu     sync.RWMutex
	states map[healthKey]string
}

// healthKey is a health check's path, an instance's path and whether the
// check was over IPv6.
type healthKey struct {
	check, instance string
	ipv6            bool
}

// state returns the reported state of instance by one of checks, over IPv4
// or IPv6, or "".
func (h *reportedHealth) state(checks []string, instance string, ipv6 bool) string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ir, ok := parseRef(instance, ref{})
	if !ok {
		return ""
	}
	for _, c := range checks {
		if cr, ok := parseRef(c, ref{}); ok {
			if s := h.states[healthKey{cr.path(), ir.path(), ipv6}]; s != "" {
				return s
			}
		}
	}
	return ""
}

func (h *reportedHealth) replace(reports []HealthReport) error {
	states := map[healthKey]string{}
	for i, r := range reports {
		cr, ok1 := parseRef(r.HealthCheck, ref{})
		ir, ok2 := parseRef(r.Instance, ref{})
		switch {
		case !ok1:
			return fmt.Errorf("health[%d].healthCheck %q: not a resource link", i, r.HealthCheck)
		case !ok2:
			return fmt.Errorf("health[%d].instance %q: not a resource link", i, r.Instance)
		case r.HealthState != "HEALTHY" && r.HealthState != "UNHEALTHY":
			return fmt.Errorf("health[%d].healthState %q: want HEALTHY or UNHEALTHY", i, r.HealthState)
		case r.IPVersion != "" && r.IPVersion != "IPV4" && r.IPVersion != "IPV6":
			return fmt.Errorf("health[%d].ipVersion %q: want IPV4 or IPV6", i, r.IPVersion)
		}
		states[healthKey{cr.path(), ir.path(), r.IPVersion == "IPV6"}] = r.HealthState
	}
	h.mu.Lock()
	h.states = states
	h.mu.Unlock()
	return nil
}

func (h *reportedHealth) list() []HealthReport {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := []HealthReport{}
	for k, s := range h.states {
		r := HealthReport{HealthCheck: linkBase + k.check, Instance: linkBase + k.instance, HealthState: s}
		if k.ipv6 {
			r.IPVersion = "IPV6"
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].HealthCheck != out[j].HealthCheck {
			return out[i].HealthCheck < out[j].HealthCheck
		}
		if out[i].Instance != out[j].Instance {
			return out[i].Instance < out[j].Instance
		}
		return out[i].IPVersion < out[j].IPVersion
	})
	return out
}

// SetHealth replaces the reported probe results (for in-process tests).
func (s *Server) SetHealth(reports []HealthReport) error { return s.health.replace(reports) }

func (s *Server) registerHealthAdmin() {
	s.mux.HandleFunc("GET /admin/v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"health": s.health.list()})
	})
	s.mux.HandleFunc("PUT /admin/v1/health", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Health []HealthReport `json:"health"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 4<<20))
		dec.DisallowUnknownFields()
		err := dec.Decode(&body)
		if err == nil {
			err = s.health.replace(body.Health)
		}
		if err != nil {
			writeError(w, invalid("Health reports: %v", err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
