// Command bench measures what external load balancers cost at scale, against
// an in-process fake-gce whose operations take a chosen time, and prints a
// markdown table (also written to -out, e.g. _output/benchmarks.md):
//
//   - the time until the provider's Ensure returns, p50 and p99, for 1, 100
//     and 1,000 Services started at once and reconciled by -workers workers
//     (the CCM's --concurrent-service-syncs), per backend;
//   - API requests per Service create, no-change resync and delete (reads,
//     writes, operation waits);
//   - API requests and wall time to absorb one node added and one removed,
//     with the largest Service count, per backend;
//   - with -ccm-services, the whole CCM binary against the e2e control plane:
//     time from Service creation to status per mode and backend;
//   - with -rss-services, the CCM's peak RSS with many Services and nodes.
//
// Every measurement is made -runs times; a figure is printed as the median
// and the range (min-max) of the runs, next to the machine's load average
// (/proc/loadavg) at the start of each run: the same figures on a busier or
// an idler machine are slower or faster.
//
// Usage: go run ./test/bench -op-latency 1s -services 1,100 -runs 3 -out _output/benchmarks.md
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nlb"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

func main() {
	latency := flag.Duration("op-latency", time.Second, "how long each operation takes in fake-gce")
	counts := flag.String("services", "1,100,1000", "comma-separated Service counts")
	workers := flag.Int("workers", 10, "Services reconciled at once (the CCM's --concurrent-service-syncs)")
	nodes := flag.Int("nodes", 6, "nodes (instances in three zones)")
	out := flag.String("out", "", "also write the report to this file")
	rssServices := flag.Int("rss-services", 0, "also measure the CCM's peak RSS with this many Services (needs the Kubernetes binaries; 0: skip)")
	rssNodes := flag.Int("rss-nodes", 1000, "nodes for the RSS measurement")
	memLimit := flag.String("rss-gomemlimit", "", "GOMEMLIMIT for the CCM in the RSS measurement (e.g. 150MiB; empty: none)")
	ccmCounts := flag.String("ccm-services", "", "comma-separated Service counts for the whole CCM's status latency per mode, with -op-latency (needs the Kubernetes binaries; empty: skip)")
	ccmNodes := flag.Int("ccm-nodes", 10, "nodes for the whole-CCM runs")
	ccmModes := flag.String("ccm-modes", "backend-service,target-pool,nodeip", "comma-separated modes of the whole-CCM runs: the external backends and nodeip")
	backends := flag.String("backends", nlb.BackendTargetPool+","+nlb.BackendService, "comma-separated external backends to measure")
	runs := flag.Int("runs", 3, "how many times each measurement is made (the report gives their median and range)")
	flag.Parse()
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "bench: -runs: must be at least 1")
		os.Exit(2)
	}
	ns := parseCounts("services", *counts)
	cs := parseCounts("ccm-services", *ccmCounts)
	r := &report{latency: *latency, workers: *workers, nodes: *nodes, command: commandLine()}
	for _, backend := range strings.Split(*backends, ",") {
		if backend != nlb.BackendTargetPool && backend != nlb.BackendService {
			fmt.Fprintf(os.Stderr, "bench: -backends: %q is not a backend\n", backend)
			os.Exit(2)
		}
		for _, n := range ns {
			if err := r.measure(backend, n, n == ns[len(ns)-1], *runs); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				os.Exit(1)
			}
		}
	}
	text := ""
	if len(ns) > 0 {
		text = r.String()
	}
	var bin string
	exit := os.Exit
	if len(cs) > 0 || *rssServices > 0 {
		var err error
		if bin, err = buildBinaries(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		// os.Exit skips deferred calls: exit removes the binaries first.
		exit = func(code int) { os.RemoveAll(filepath.Dir(bin)); os.Exit(code) }
		defer os.RemoveAll(filepath.Dir(bin))
	}
	var rows []ccmRow
	for _, m := range strings.Split(*ccmModes, ",") {
		mode := ccmRun{mode: "external", backend: m}
		switch m {
		case "nodeip":
			mode = ccmRun{mode: "nodeip", backend: nlb.BackendService}
		case nlb.BackendService, nlb.BackendTargetPool:
		default:
			fmt.Fprintf(os.Stderr, "bench: -ccm-modes: %q is not a mode\n", m)
			exit(2)
		}
		for _, n := range cs {
			mode.services, mode.nodes, mode.opLatency = n, *ccmNodes, *latency
			row, err := runCCMTimes(bin, mode, *runs)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				exit(1)
			}
			rows = append(rows, row)
		}
	}
	if len(rows) > 0 {
		text += ccmText(rows, r.command)
	}
	if *rssServices > 0 {
		row, err := runCCMTimes(bin, ccmRun{services: *rssServices, nodes: *rssNodes, mode: "external", backend: nlb.BackendService,
			memLimit: *memLimit, heapProfile: os.Getenv("BENCH_HEAP_PROFILE")}, *runs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			exit(1)
		}
		text += memoryText(row, r.command)
	}
	fmt.Print(text)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			exit(1)
		}
	}
}

// parseCounts reads a comma-separated list of positive counts.
func parseCounts(flagName, list string) []int {
	var ns []int
	for _, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: -%s: %q is not a count\n", flagName, s)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	return ns
}

type counts struct{ reads, writes, waits int }

func (c counts) per(n int) string {
	f := func(x int) string { return strconv.FormatFloat(float64(x)/float64(n), 'f', 1, 64) }
	return fmt.Sprintf("%s (%s + %s + %s)", f(c.reads+c.writes+c.waits), f(c.reads), f(c.writes), f(c.waits))
}

// createRun is one run's creates, resyncs and deletes of n Services.
type createRun struct {
	load     string // the 1-minute load average as the run started
	p50, p99 time.Duration
	create   counts
	resync   counts
	delete   counts
}

type createRow struct {
	backend string
	n       int
	runs    []createRun
}

// churnRun is one run's node added, then removed.
type churnRun struct {
	add, remove   counts
	addT, removeT time.Duration
}

type churnRow struct {
	backend string
	n       int
	runs    []churnRun
}

type report struct {
	latency time.Duration
	workers int
	nodes   int
	command string
	creates []createRow
	churns  []churnRow
}

// env is a fake cloud and a client.
type env struct {
	srv   *fakegce.Server
	hs    *httptest.Server
	api   *computeclient.Client
	cloud *compute.Service
	p     nlb.Params
	nodes []*v1.Node
}

func newEnv(latency time.Duration, nodeCount int, backend string) (*env, error) {
	// 198.18.0.0/15 is the range set aside for benchmarks: room for every Service.
	srv, err := fakegce.New(fakegce.Config{OpLatency: latency, MaxCalls: 10_000_000, ExternalIPRange: "198.18.0.0/15"})
	if err != nil {
		return nil, err
	}
	hs := httptest.NewServer(srv)
	ctx := context.Background()
	cloud, err := compute.NewService(ctx, option.WithEndpoint(hs.URL+"/compute/v1/"), option.WithHTTPClient(hs.Client()))
	if err != nil {
		return nil, err
	}
	api, err := computeclient.New(ctx, computeclient.Config{Project: "fake-project", Endpoint: hs.URL + "/compute/v1/",
		HTTPClient: hs.Client(), QPS: 100000, Burst: 100000})
	if err != nil {
		return nil, err
	}
	e := &env{srv: srv, hs: hs, api: api, cloud: cloud, p: nlb.Params{
		Owner: ownership.ForCluster("bench"), Project: "fake-project", Region: "us-central1",
		NetworkURL: "https://www.googleapis.com/compute/v1/projects/fake-project/global/networks/default",
		NodeTags:   []string{"k8s-node"}, HealthCheckRanges: []netip.Prefix{netip.MustParsePrefix("35.191.0.0/16")},
		DefaultBackend: backend,
	}}
	op, err := cloud.Networks.Insert("fake-project", &compute.Network{Name: "default", AutoCreateSubnetworks: true}).Do()
	if err == nil {
		_, err = cloud.GlobalOperations.Wait("fake-project", op.Name).Do()
	}
	if err != nil {
		return nil, err
	}
	for i := 0; i <= nodeCount; i++ { // one more than used: the node that joins
		if err := e.addInstance(fmt.Sprintf("node-%d", i+1), zoneOf(i)); err != nil {
			return nil, err
		}
	}
	for i := 0; i < nodeCount; i++ {
		e.nodes = append(e.nodes, node(fmt.Sprintf("node-%d", i+1), zoneOf(i)))
	}
	return e, nil
}

func zoneOf(i int) string { return "us-central1-" + string(rune('a'+i%3)) }

func node(name, zone string) *v1.Node {
	return &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.NodeSpec{ProviderID: "gce://fake-project/" + zone + "/" + name}}
}

func (e *env) addInstance(name, zone string) error {
	op, err := e.cloud.Instances.Insert("fake-project", zone, &compute.Instance{Name: name, MachineType: "zones/" + zone + "/machineTypes/e2-medium",
		Disks:             []*compute.AttachedDisk{{Boot: true, AutoDelete: true, InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Network: "global/networks/default"}}, Tags: &compute.Tags{Items: []string{"k8s-node"}}}).Do()
	if err == nil {
		_, err = e.cloud.ZoneOperations.Wait("fake-project", zone, op.Name).Do()
	}
	return err
}

func (e *env) close() {
	e.hs.Close()
	e.srv.Close()
}

func (e *env) counts() counts {
	var c counts
	for _, call := range e.srv.Calls() {
		switch {
		case strings.Contains(call.API, "Operations."):
			c.waits++
		case call.Method == "GET" || strings.HasSuffix(call.API, ".listInstances") || strings.HasSuffix(call.API, ".getHealth"):
			c.reads++
		default:
			c.writes++
		}
	}
	return c
}

func service(i int) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: fmt.Sprintf("svc-%d", i), UID: types.UID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))},
		Spec: v1.ServiceSpec{Type: v1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: v1.ServiceExternalTrafficPolicyCluster,
			Ports: []v1.ServicePort{{Name: "http", Port: 80, Protocol: v1.ProtocolTCP}}},
	}
}

// each runs f for every Service with the given number of workers and
// returns each Service's time from the start to its completion.
func each(n, workers int, f func(i int) error) ([]time.Duration, error) {
	start := time.Now()
	done := make([]time.Duration, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := f(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				done[i] = time.Since(start)
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return done, firstErr
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := int(float64(len(s)-1) * p)
	return s[idx]
}

// measure makes the runs of one backend and Service count.
func (r *report) measure(backend string, n int, churn bool, runs int) error {
	row, crow := createRow{backend: backend, n: n}, churnRow{backend: backend, n: n}
	for i := range runs {
		fmt.Fprintf(os.Stderr, "bench: %s, %d Services, run %d of %d\n", backend, n, i+1, runs)
		cr, ch, err := r.run(backend, n, churn)
		if err != nil {
			return err
		}
		row.runs = append(row.runs, cr)
		if churn {
			crow.runs = append(crow.runs, ch)
		}
	}
	r.creates = append(r.creates, row)
	if churn {
		r.churns = append(r.churns, crow)
	}
	return nil
}

// run is one run: n Services created at once, resynced, and deleted, with
// (if churn) one node added and removed before the deletes.
func (r *report) run(backend string, n int, churn bool) (createRun, churnRun, error) {
	var cr churnRun
	e, err := newEnv(r.latency, r.nodes, backend)
	if err != nil {
		return createRun{}, cr, err
	}
	defer e.close()
	ctx := context.Background()
	lb := nlb.New(e.api, e.p)
	ensure := func(nodes []*v1.Node) func(i int) error {
		return func(i int) error {
			_, err := lb.Ensure(ctx, service(i), nodes)
			return err
		}
	}
	// update is the provider's UpdateLoadBalancer: the node-change shortcut
	// of a backend service, else a full ensure.
	update := func(nodes []*v1.Node) func(i int) error {
		return func(i int) error {
			if done, err := lb.UpdateNodes(ctx, service(i), nodes); done {
				return err
			}
			_, err := lb.Ensure(ctx, service(i), nodes)
			return err
		}
	}
	e.srv.ResetCalls()
	load := loadAverage()
	times, err := each(n, r.workers, ensure(e.nodes))
	if err != nil {
		return createRun{}, cr, fmt.Errorf("create: %w", err)
	}
	row := createRun{load: load, p50: percentile(times, 0.5), p99: percentile(times, 0.99), create: e.counts()}
	e.srv.ResetCalls()
	if _, err := each(n, r.workers, ensure(e.nodes)); err != nil {
		return row, cr, fmt.Errorf("resync: %w", err)
	}
	row.resync = e.counts()
	if churn {
		added := append(append([]*v1.Node(nil), e.nodes...), node(fmt.Sprintf("node-%d", r.nodes+1), zoneOf(r.nodes)))
		e.srv.ResetCalls()
		start := time.Now()
		if _, err := each(n, r.workers, update(added)); err != nil {
			return row, cr, fmt.Errorf("node add: %w", err)
		}
		cr.addT, cr.add = time.Since(start), e.counts()
		e.srv.ResetCalls()
		start = time.Now()
		if _, err := each(n, r.workers, update(e.nodes)); err != nil {
			return row, cr, fmt.Errorf("node removal: %w", err)
		}
		cr.removeT, cr.remove = time.Since(start), e.counts()
	}
	e.srv.ResetCalls()
	if _, err := each(n, r.workers, func(i int) error { return lb.Delete(ctx, service(i)) }); err != nil {
		return row, cr, fmt.Errorf("delete: %w", err)
	}
	row.delete = e.counts()
	return row, cr, nil
}

func (r *report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nMeasured by `%s` on a %d-core machine, against an in-process fake-gce whose operations take %s each. Services are started at once and reconciled by %d workers (the CCM's `--concurrent-service-syncs`). Each figure is the median of %d runs and, in brackets, their range; the load column is the machine's 1-minute load average as each run started. Requests are reads + writes + operation waits, per Service.\n\n",
		r.command, runtime.NumCPU(), r.latency, r.workers, r.runs())
	fmt.Fprintln(&b, "## Creating, resyncing and deleting Services")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "The provider's `EnsureLoadBalancer` called directly, with no Kubernetes API: the time is from the start of the batch until each Service's Ensure returns (its time in the queue of workers included), not a Service status.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| backend | Services | Ensure returned after, p50 | p99 | requests per create | per no-change resync | per delete | load |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|")
	for _, c := range r.creates {
		var p50, p99 []time.Duration
		var create, resync, del []string
		var loads []string
		for _, run := range c.runs {
			p50, p99 = append(p50, run.p50), append(p99, run.p99)
			create, resync, del = append(create, run.create.per(c.n)), append(resync, run.resync.per(c.n)), append(del, run.delete.per(c.n))
			loads = append(loads, run.load)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s |\n", c.backend, c.n, spread(p50), spread(p99),
			distinct(create), distinct(resync), distinct(del), strings.Join(loads, ", "))
	}
	if len(r.churns) == 0 {
		return b.String()
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "## One node added, then removed")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| backend | Services | node add: writes (total requests), wall time | node removal: writes (total requests), wall time |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	for _, c := range r.churns {
		var add, remove []string
		var addT, removeT []time.Duration
		for _, run := range c.runs {
			add = append(add, fmt.Sprintf("%s (%d requests)", writes(run.add.writes), run.add.reads+run.add.writes+run.add.waits))
			remove = append(remove, fmt.Sprintf("%s (%d requests)", writes(run.remove.writes), run.remove.reads+run.remove.writes+run.remove.waits))
			addT, removeT = append(addT, run.addT), append(removeT, run.removeT)
		}
		fmt.Fprintf(&b, "| %s | %d | %s, %s | %s, %s |\n", c.backend, c.n, distinct(add), spread(addT), distinct(remove), spread(removeT))
	}
	return b.String()
}

func writes(n int) string {
	if n == 1 {
		return "1 write"
	}
	return fmt.Sprintf("%d writes", n)
}

// runs is the number of runs per measurement.
func (r *report) runs() int {
	if len(r.creates) == 0 {
		return 0
	}
	return len(r.creates[0].runs)
}

// spread is the median of the durations and, with more than one, their
// range: "3.01s (3.009s-3.02s)".
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return ""
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[len(s)/2].Round(time.Millisecond)
	if len(s) == 1 {
		return med.String()
	}
	return fmt.Sprintf("%s (%s–%s)", med, s[0].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

// distinct is the values the runs gave, each once, in order of first
// appearance: one value when every run agreed.
func distinct(vs []string) string {
	var out []string
	for _, v := range vs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return strings.Join(out, " or ")
}

// loadAverage is the machine's 1-minute load average, as /proc/loadavg
// gives it ("?" where there is none).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// commandLine is this run's command, with the flags given, for the report.
func commandLine() string {
	args := []string{"go run ./test/bench"}
	flag.Visit(func(f *flag.Flag) {
		if f.Name != "out" {
			args = append(args, "-"+f.Name+" "+shellQuote(f.Value.String()))
		}
	})
	return strings.Join(args, " ")
}

func shellQuote(v string) string {
	if v != "" && !strings.ContainsAny(v, " '\"$\\") {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
