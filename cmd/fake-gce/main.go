// Command fake-gce serves a local Compute Engine v1 API and metadata server
// for tests and CI. Point clients at it with
//
//	option.WithEndpoint("http://127.0.0.1:8085/compute/v1/")   (Go client)
//	compute_custom_endpoint = "http://127.0.0.1:8085/compute/v1/"  (terraform)
//	GCE_METADATA_HOST=127.0.0.1:8085                            (metadata clients)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/internal/version"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

type quotaFlag map[string]int64

func (q quotaFlag) String() string { return "" }
func (q quotaFlag) Set(v string) error {
	k, n, ok := strings.Cut(v, "=")
	limit, err := strconv.ParseInt(n, 10, 64)
	if !ok || k == "" || err != nil || limit < 0 {
		return fmt.Errorf("want METRIC=LIMIT such as FIREWALLS=100")
	}
	q[strings.ToUpper(k)] = limit
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fake-gce:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("fake-gce", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: fake-gce [flags]

A local Compute Engine v1 API (under /compute/v1/) and metadata server
(under /computeMetadata/v1/) for tests and CI. It serves only what it is asked;
it never reaches the network. Admin endpoints: GET/DELETE /admin/v1/calls,
GET/PUT /admin/v1/faults, POST /admin/v1/reset, GET /admin/v1/state,
GET /admin/v1/generation?after=N (long poll until the state changes),
GET/PUT /admin/v1/health (health-check results for getHealth); /healthz
and /metrics.

With --require-token the admin endpoints need the token too. Every request
must name a loopback name, an IP address, the --listen host or an
--allowed-host in its Host header, and cross-origin POST/PUT/DELETE requests
(a web page's form) are refused. Listening on 0.0.0.0 exposes all of it to
the network: see docs/security.md.

Flags:
`)
		fs.PrintDefaults()
	}
	var projects, regions listFlag
	quotas := quotaFlag{}
	listen := fs.String("listen", "127.0.0.1:8085", "address to serve on (host:port)")
	fs.Var(&projects, "project", "project id to serve (repeatable; default fake-project)")
	fs.Var(&regions, "region", "region of the catalog (repeatable; default us-central1)")
	zones := fs.String("zones", "", "comma-separated zones (default REGION-a,REGION-b,REGION-c for each region)")
	stateFile := fs.String("state-file", "", "file that persists every change across restarts (empty: memory only)")
	opLatency := fs.Duration("op-latency", fakegce.DefaultOpLatency, "how long an operation stays RUNNING before DONE, as the real API's do (an address's setLabels and an instance group's addInstances are DONE at once, as recorded); 0 answers every operation DONE at once")
	extRange := fs.String("external-ip-range", "203.0.113.0/24", "pool for ephemeral and reserved external addresses")
	token := fs.String("require-token", "", "when set, compute and admin requests need 'Authorization: Bearer TOKEN' (401 otherwise)")
	metadataToken := fs.Bool("metadata-token", false, "with --require-token, the metadata server hands out its token as the default service account's (anyone who reaches the port can then read it)")
	var allowedHosts listFlag
	fs.Var(&allowedHosts, "allowed-host", "a name requests may carry in their Host header, besides loopback names, IP addresses and the --listen host (repeatable); other names are refused, against DNS rebinding")
	maxCalls := fs.Int("max-calls", fakegce.DefaultMaxCalls, "entries the call log (/admin/v1/calls) keeps; the oldest go first")
	maxCallBytes := fs.Int("max-call-bytes", fakegce.DefaultMaxCallBytes, "bytes the call log (/admin/v1/calls) keeps; the oldest go first")
	faultsFile := fs.String("faults", "", "JSON file of fault rules (a list, or {\"rules\": [...]}); see /admin/v1/faults")
	seed := fs.Int64("seed", 1, "seed for ids and fault probabilities")
	fs.Var(quotas, "quota", "per-project quota METRIC=LIMIT, e.g. FIREWALLS=100 (repeatable)")
	metaInstance := fs.String("metadata-instance", "", "ZONE/NAME of the instance the metadata server describes as the current one")
	showVersion := fs.Bool("version", false, "print the version, commit and build date, and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *showVersion {
		fmt.Println(version.Line("fake-gce"))
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (all settings are flags; see --help)", fs.Arg(0))
	}
	if *opLatency == 0 {
		*opLatency = fakegce.NoOpLatency
	}
	cfg := fakegce.Config{
		Projects: projects, Regions: regions, OpLatency: *opLatency, ExternalIPRange: *extRange,
		RequireToken: *token, StateFile: *stateFile, Seed: *seed, Quotas: quotas, MetadataInstance: *metaInstance,
		ServeMetadataToken: *metadataToken, AllowedHosts: allowedHosts, MaxCalls: *maxCalls, MaxCallBytes: *maxCallBytes,
	}
	if host, _, err := net.SplitHostPort(*listen); err == nil && host != "" {
		cfg.AllowedHosts = append(cfg.AllowedHosts, host)
	}
	if *zones != "" {
		cfg.Zones = strings.Split(*zones, ",")
	}
	if *faultsFile != "" {
		f, err := os.Open(*faultsFile)
		if err != nil {
			return fmt.Errorf("--faults: %w", err)
		}
		rules, err := fakegce.DecodeFaultRules(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--faults %s: %w", *faultsFile, err)
		}
		cfg.Faults = rules
	}
	srv, err := fakegce.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "fake-gce: serving the compute API at http://%s/compute/v1/ and metadata at %s\n", ln.Addr(), ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(shutdown)
}
