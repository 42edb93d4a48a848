// Package fakegce is a local Compute Engine v1 API: a REST server faithful
// enough that google.golang.org/api/compute/v1, the Google terraform provider and
// cloud controller managers cannot tell it from the real service for the
// resources a Kubernetes cluster uses (networks, firewalls, routes, load
// balancers, instances and their groups), plus a GCE metadata server.
//
// Every test of this repository talks to it over HTTP. Its routes come from the
// discovery document shipped with the Go client, so paths, verbs and body
// schemas are the API's own. It never reaches the network: it only answers.
package fakegce

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultOpLatency is how long an operation takes unless configured: every
// mutation recorded against the real API answers RUNNING and is DONE only at
// a later poll (fixtures/gcp-http-logs), so by default a client's wait loop
// runs here too. It is short, so that tests stay fast.
const DefaultOpLatency = 20 * time.Millisecond

// NoOpLatency, as Config.OpLatency, makes every operation DONE in its first
// answer, which the real API never does for an insert.
const NoOpLatency time.Duration = -1

// DefaultMaxCallBytes bounds the call log unless configured: a few hundred
// thousand ordinary calls, whatever the size of the requests.
const DefaultMaxCallBytes = 32 << 20

// DefaultMaxCalls bounds the call log's entries unless configured.
const DefaultMaxCalls = 100000

// Config describes the fake cloud. The zero value, after defaults, is one
// project "fake-project" in us-central1 with zones a, b and c.
type Config struct {
	// Projects the API serves; requests for others answer 404.
	Projects []string
	// Regions of the catalog; each has the zones of Zones that start with its name.
	Regions []string
	// Zones of the catalog; by default each region gets -a, -b and -c.
	Zones []string
	// OpLatency is how long an operation stays PENDING/RUNNING before it is DONE;
	// the resource changes when it is DONE. Zero means DefaultOpLatency;
	// NoOpLatency makes every operation DONE in its first answer.
	OpLatency time.Duration
	// ExternalIPRange is the pool for ephemeral and reserved external addresses.
	ExternalIPRange string
	// RequireToken, when set, makes every compute and admin request without
	// "Authorization: Bearer <RequireToken>" answer 401.
	RequireToken string
	// ServeMetadataToken makes the metadata server hand out RequireToken as
	// the default service account's access token, for clients that take their
	// credentials from the metadata server. Off, anyone who can reach the
	// port could read the token there.
	ServeMetadataToken bool
	// AllowedHosts are the names, besides loopback names and IP addresses,
	// that requests may carry in their Host header (DNS rebinding defence).
	AllowedHosts []string
	// StateFile persists every change; empty keeps state in memory only.
	StateFile string
	// Faults are the initial fault rules.
	Faults []FaultRule
	// Seed makes ids and fault probabilities repeat from run to run.
	Seed int64
	// Quotas limits resources per project (global) or per region (regional
	// resources), by quota metric: FIREWALLS, ROUTES, FORWARDING_RULES, ...
	Quotas map[string]int64
	// MetadataInstance is the instance ("zone/name", in the first project) the
	// metadata server describes as the current one.
	MetadataInstance string
	// MaxCalls bounds the call log kept for /admin/v1/calls (oldest dropped).
	MaxCalls int
	// MaxCallBytes bounds the call log's size in bytes (oldest dropped).
	MaxCallBytes int
}

func (c *Config) setDefaults() {
	if len(c.Projects) == 0 {
		c.Projects = []string{"fake-project"}
	}
	if len(c.Regions) == 0 {
		c.Regions = []string{"us-central1"}
	}
	if len(c.Zones) == 0 {
		for _, r := range c.Regions {
			c.Zones = append(c.Zones, r+"-a", r+"-b", r+"-c")
		}
	}
	if c.ExternalIPRange == "" {
		c.ExternalIPRange = "203.0.113.0/24"
	}
	if c.OpLatency == 0 {
		c.OpLatency = DefaultOpLatency
	}
	if c.MaxCalls == 0 {
		c.MaxCalls = DefaultMaxCalls
	}
	if c.MaxCallBytes == 0 {
		c.MaxCallBytes = DefaultMaxCallBytes
	}
}

func (c *Config) validate() error {
	for _, p := range c.Projects {
		if !validProjectID(p) {
			return fmt.Errorf("project %q: must be 6 to 30 lowercase letters, digits or hyphens, starting with a letter", p)
		}
	}
	for _, r := range c.Regions {
		if !validName(r) {
			return fmt.Errorf("region %q: not a valid region name", r)
		}
	}
	for _, z := range c.Zones {
		if regionOfZone(z, c.Regions) == "" {
			return fmt.Errorf("zone %q: belongs to none of the regions %s (a zone is REGION-x)", z, strings.Join(c.Regions, ","))
		}
	}
	if _, _, err := net.ParseCIDR(c.ExternalIPRange); err != nil {
		return fmt.Errorf("external IP range %q: %v", c.ExternalIPRange, err)
	}
	if c.OpLatency < 0 && c.OpLatency != NoOpLatency {
		return fmt.Errorf("operation latency %v: must not be negative", c.OpLatency)
	}
	for i := range c.Faults {
		if err := c.Faults[i].compile(); err != nil {
			return fmt.Errorf("fault rule %d: %v", i, err)
		}
	}
	if c.MaxCalls < 0 || c.MaxCallBytes < 0 {
		return fmt.Errorf("call log bounds %d entries, %d bytes: must not be negative", c.MaxCalls, c.MaxCallBytes)
	}
	if c.MetadataInstance != "" && strings.Count(c.MetadataInstance, "/") != 1 {
		return fmt.Errorf("metadata instance %q: want ZONE/NAME", c.MetadataInstance)
	}
	return nil
}

func validProjectID(p string) bool {
	if len(p) < 6 || len(p) > 30 {
		return false
	}
	return validName(p)
}

func regionOfZone(zone string, regions []string) string {
	for _, r := range regions {
		if strings.HasPrefix(zone, r+"-") && len(zone) > len(r)+1 {
			return r
		}
	}
	return ""
}

// Server is the fake API. It is an http.Handler; serve it with net/http or httptest.
type Server struct {
	cfg    Config
	rt     *router
	st     *store
	cat    *catalog
	calls  *callLog
	faults *faultSet
	ops    *opRunner
	mux    *http.ServeMux
	h      http.Handler
	m      *serverMetrics
	health reportedHealth
	rngMu  sync.Mutex
	rng    *rand.Rand
}

// New builds a server from cfg. With a state file it replays the file first and
// fails (without starting empty) when the file cannot be read.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rt, err := loadRouter()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		rt:    rt,
		st:    newStore(uint64(cfg.Seed)),
		calls: newCallLog(cfg.MaxCalls, cfg.MaxCallBytes),
		rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)),
		m:     newServerMetrics(),
	}
	s.cat = newCatalog(&s.cfg)
	s.faults = newFaultSet(cfg.Faults)
	if cfg.StateFile != "" {
		log, err := openStateLog(cfg.StateFile, s.st)
		if err != nil {
			return nil, err
		}
		s.st.log = log
	}
	s.ops = newOpRunner(s)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/compute/v1/", s.serveCompute)
	s.mux.HandleFunc("/computeMetadata/v1/", s.serveMetadata)
	s.mux.HandleFunc("/computeMetadata/v1", s.serveMetadata)
	s.mux.HandleFunc("/", s.serveRoot)
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	s.mux.Handle("/metrics", s.m.handler())
	s.registerAdmin()
	s.h = s.guard(s.mux)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.h.ServeHTTP(w, r) }

// Close stops the operation timer and closes the state file.
func (s *Server) Close() error {
	s.ops.stop()
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.st.log != nil {
		err := s.st.log.close()
		s.st.log = nil
		return err
	}
	return nil
}

// serveRoot answers the metadata server's root probe (clients check it to
// detect GCE) and 404s in the API's shape for everything else.
func (s *Server) serveRoot(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" && r.Header.Get("Metadata-Flavor") == "Google" {
		w.Header().Set("Metadata-Flavor", "Google")
		w.WriteHeader(http.StatusOK)
		return
	}
	writeError(w, errorf(http.StatusNotFound, "notFound", "No API is served at %s; the compute API is under /compute/v1/.", r.URL.Path))
}

func (s *Server) float64() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}
