package fakegce

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// CallRecord is one compute request, as /admin/v1/calls lists it.
type CallRecord = callRecord

type callRecord struct {
	Time     time.Time `json:"time"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	Query    string    `json:"query,omitempty"`
	API      string    `json:"api,omitempty"` // the API method id, e.g. compute.firewalls.insert
	Status   int       `json:"status"`
	Duration float64   `json:"durationSeconds"`
}

// maxCallValue bounds a recorded path or query: the log is for seeing which
// calls were made, and a client (or an outsider) may send megabyte queries.
const maxCallValue = 1 << 10

// callLog keeps the most recent compute requests for tests and benchmarks,
// bounded in entries and in bytes (each record counted as its JSON form), so
// that no stream of requests grows fake-gce's memory or /admin/v1/calls
// without bound. The oldest tenth goes when either bound is reached.
type callLog struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int
	calls      []callRecord
	sizes      []int
	bytes      int
	dropped    int
}

func newCallLog(maxEntries, maxBytes int) *callLog {
	return &callLog{maxEntries: maxEntries, maxBytes: maxBytes}
}

func (l *callLog) add(r callRecord) {
	r.Path = truncateValue(r.Path)
	r.Query = truncateValue(r.Query)
	raw, _ := json.Marshal(r)
	size := len(raw) + 1
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.calls) > 0 && (len(l.calls) >= l.maxEntries || l.bytes+size > l.maxBytes) {
		n := max(1, len(l.calls)/10)
		for _, sz := range l.sizes[:n] {
			l.bytes -= sz
		}
		l.calls = append(l.calls[:0], l.calls[n:]...)
		l.sizes = append(l.sizes[:0], l.sizes[n:]...)
		l.dropped += n
	}
	l.calls = append(l.calls, r)
	l.sizes = append(l.sizes, size)
	l.bytes += size
}

// truncateValue cuts v to maxCallValue bytes (at a character boundary) and
// says how much was left out.
func truncateValue(v string) string {
	if len(v) <= maxCallValue {
		return v
	}
	cut := maxCallValue
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + "...[" + strconv.Itoa(len(v)-cut) + " more bytes]"
}

func (l *callLog) snapshot() ([]callRecord, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]callRecord(nil), l.calls...), l.dropped
}

func (l *callLog) clear() {
	l.mu.Lock()
	l.calls, l.sizes, l.bytes, l.dropped = nil, nil, 0, 0
	l.mu.Unlock()
}

// Calls returns the compute requests served so far (for in-process tests).
func (s *Server) Calls() []CallRecord {
	c, _ := s.calls.snapshot()
	return c
}

// ResetCalls forgets the requests served so far.
func (s *Server) ResetCalls() { s.calls.clear() }

// SetFaults replaces the fault rules.
func (s *Server) SetFaults(rules []FaultRule) error { return s.faults.replace(rules) }

// Reset deletes every resource and operation (and empties the state file).
func (s *Server) Reset() error {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.st.log != nil {
		if err := s.st.log.truncate(); err != nil {
			return err
		}
	}
	s.st.clear()
	s.ops.recompute()
	return nil
}

// State returns every stored resource by its path (projects/p/.../name), as the API shows it.
func (s *Server) State() map[string]json.RawMessage {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	out := map[string]json.RawMessage{}
	for coll, es := range s.st.colls {
		if coll == pendingColl {
			continue
		}
		for name, e := range es {
			out[coll+"/"+name] = e.raw
		}
	}
	return out
}

func (s *Server) registerAdmin() {
	s.mux.HandleFunc("GET /admin/v1/generation", s.serveGeneration)
	s.registerHealthAdmin()
	s.mux.HandleFunc("GET /admin/v1/calls", func(w http.ResponseWriter, r *http.Request) {
		calls, dropped := s.calls.snapshot()
		if calls == nil {
			calls = []callRecord{}
		}
		writeJSON(w, map[string]any{"calls": calls, "dropped": dropped})
	})
	s.mux.HandleFunc("DELETE /admin/v1/calls", func(w http.ResponseWriter, r *http.Request) {
		s.calls.clear()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /admin/v1/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"rules": s.faults.list()})
	})
	s.mux.HandleFunc("PUT /admin/v1/faults", func(w http.ResponseWriter, r *http.Request) {
		rules, err := decodeFaultRules(r.Body)
		if err == nil {
			err = s.faults.replace(rules)
		}
		if err != nil {
			writeError(w, invalid("Fault rules: %v", err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /admin/v1/reset", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Reset(); err != nil {
			writeError(w, asAPIError(err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /admin/v1/state", func(w http.ResponseWriter, r *http.Request) {
		s.ops.advance()
		st := s.State()
		keys := make([]string, 0, len(st))
		for k := range st {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		writeJSON(w, map[string]any{"resources": st, "count": len(keys)})
	})
}

// decodeFaultRules reads fault rules: a JSON list, or {"rules": [...]}.
func decodeFaultRules(r io.Reader) ([]FaultRule, error) {
	raw, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	var rules []FaultRule
	if err := json.Unmarshal(raw, &rules); err == nil {
		return rules, nil
	}
	var wrapped struct {
		Rules []FaultRule `json:"rules"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&wrapped); err != nil {
		return nil, err
	}
	return wrapped.Rules, nil
}

// DecodeFaultRules reads a fault file (for the fake-gce command).
func DecodeFaultRules(r io.Reader) ([]FaultRule, error) { return decodeFaultRules(r) }

type serverMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newServerMetrics() *serverMetrics {
	m := &serverMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fakegce_requests_total", Help: "Compute API requests served, by API method and HTTP status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fakegce_request_duration_seconds", Help: "Time to serve a compute API request, by API method.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"method"}),
	}
	m.reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *serverMetrics) observe(method string, code int, d time.Duration) {
	if method == "" {
		method = "unknown"
	}
	m.requests.WithLabelValues(method, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(method).Observe(d.Seconds())
}

func (m *serverMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
