// Command bench measures what external load balancers cost at scale, against
// an in-process fake-gce whose operations take a chosen time, and prints a
// markdown table (also written to -out, e.g. docs/benchmarks.md):
//
//   - time from Service creation to status, p50 and p99, for 1, 100 and
//     1,000 Services created at once and reconciled by -workers workers (the
//     CCM's --concurrent-service-syncs), per backend;
//   - API requests per Service create, no-change resync and delete (reads,
//     writes, operation waits);
//   - API requests and wall time to absorb one node added and one removed,
//     with the largest Service count, per backend;
//   - with -ccm-services, the whole CCM binary against the e2e control plane:
//     time from Service creation to status per mode and backend;
//   - with -rss-services, the CCM's peak RSS with many Services and nodes.
//
// Usage: go run ./test/bench -op-latency 1s -services 1,100,1000 -out docs/benchmarks.md
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"os"
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

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/computeclient"
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
	flag.Parse()
	ns := parseCounts("services", *counts)
	cs := parseCounts("ccm-services", *ccmCounts)
	r := &report{latency: *latency, workers: *workers, nodes: *nodes}
	for _, backend := range strings.Split(*backends, ",") {
		if backend != nlb.BackendTargetPool && backend != nlb.BackendService {
			fmt.Fprintf(os.Stderr, "bench: -backends: %q is not a backend\n", backend)
			os.Exit(2)
		}
		for _, n := range ns {
			if err := r.run(backend, n, n == ns[len(ns)-1]); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				os.Exit(1)
			}
		}
	}
	text := ""
	if len(ns) > 0 {
		text = r.String()
	}
	var rows []ccmResult
	for _, m := range strings.Split(*ccmModes, ",") {
		mode := ccmRun{mode: "external", backend: m}
		switch m {
		case "nodeip":
			mode = ccmRun{mode: "nodeip", backend: nlb.BackendService}
		case nlb.BackendService, nlb.BackendTargetPool:
		default:
			fmt.Fprintf(os.Stderr, "bench: -ccm-modes: %q is not a mode\n", m)
			os.Exit(2)
		}
		for _, n := range cs {
			mode.services, mode.nodes, mode.opLatency = n, *ccmNodes, *latency
			res, err := runCCM(mode)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				os.Exit(1)
			}
			rows = append(rows, res)
		}
	}
	if len(rows) > 0 {
		text += ccmText(rows)
	}
	if *rssServices > 0 {
		res, err := runCCM(ccmRun{services: *rssServices, nodes: *rssNodes, mode: "external", backend: nlb.BackendService,
			memLimit: *memLimit, heapProfile: os.Getenv("BENCH_HEAP_PROFILE")})
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		text += memoryText(res)
	}
	fmt.Print(text)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
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

type createRow struct {
	backend  string
	n        int
	p50, p99 time.Duration
	create   counts
	resync   counts
	delete   counts
}

type churnRow struct {
	backend       string
	n             int
	add, remove   counts
	addT, removeT time.Duration
}

type report struct {
	latency time.Duration
	workers int
	nodes   int
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

func (r *report) run(backend string, n int, churn bool) error {
	fmt.Fprintf(os.Stderr, "bench: %s, %d Services\n", backend, n)
	e, err := newEnv(r.latency, r.nodes, backend)
	if err != nil {
		return err
	}
	defer e.close()
	ctx := context.Background()
	ensure := func(nodes []*v1.Node) func(i int) error {
		return func(i int) error {
			_, err := nlb.Ensure(ctx, e.api, e.p, service(i), nodes)
			return err
		}
	}
	// update is the provider's UpdateLoadBalancer: the node-change shortcut
	// of a backend service, else a full ensure.
	update := func(nodes []*v1.Node) func(i int) error {
		return func(i int) error {
			if done, err := nlb.UpdateNodes(ctx, e.api, e.p, service(i), nodes); done {
				return err
			}
			_, err := nlb.Ensure(ctx, e.api, e.p, service(i), nodes)
			return err
		}
	}
	e.srv.ResetCalls()
	times, err := each(n, r.workers, ensure(e.nodes))
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	row := createRow{backend: backend, n: n, p50: percentile(times, 0.5), p99: percentile(times, 0.99), create: e.counts()}
	e.srv.ResetCalls()
	if _, err := each(n, r.workers, ensure(e.nodes)); err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	row.resync = e.counts()
	if churn {
		cr := churnRow{backend: backend, n: n}
		added := append(append([]*v1.Node(nil), e.nodes...), node(fmt.Sprintf("node-%d", r.nodes+1), zoneOf(r.nodes)))
		e.srv.ResetCalls()
		start := time.Now()
		if _, err := each(n, r.workers, update(added)); err != nil {
			return fmt.Errorf("node add: %w", err)
		}
		cr.addT, cr.add = time.Since(start), e.counts()
		e.srv.ResetCalls()
		start = time.Now()
		if _, err := each(n, r.workers, update(e.nodes)); err != nil {
			return fmt.Errorf("node removal: %w", err)
		}
		cr.removeT, cr.remove = time.Since(start), e.counts()
		r.churns = append(r.churns, cr)
	}
	e.srv.ResetCalls()
	if _, err := each(n, r.workers, func(i int) error { return nlb.Delete(ctx, e.api, e.p, service(i)) }); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	row.delete = e.counts()
	r.creates = append(r.creates, row)
	return nil
}

func (r *report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nMeasured by `go run ./test/bench -op-latency %s -workers %d -nodes %d` on this repository's 2-core machine, against an in-process fake-gce whose operations take %s each. Services are created at once and reconciled by %d workers (the CCM's `--concurrent-service-syncs`). Requests are reads + writes + operation waits, per Service.\n\n",
		r.latency, r.workers, r.nodes, r.latency, r.workers)
	fmt.Fprintln(&b, "## Creating, resyncing and deleting Services")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| backend | Services | time to status p50 | p99 | requests per create | per no-change resync | per delete |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|")
	for _, c := range r.creates {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n", c.backend, c.n, c.p50.Round(time.Millisecond), c.p99.Round(time.Millisecond),
			c.create.per(c.n), c.resync.per(c.n), c.delete.per(c.n))
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "## One node added, then removed")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| backend | Services | node add: writes (total requests), wall time | node removal: writes (total requests), wall time |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	for _, c := range r.churns {
		fmt.Fprintf(&b, "| %s | %d | %d writes (%d requests), %s | %d writes (%d requests), %s |\n", c.backend, c.n,
			c.add.writes, c.add.reads+c.add.writes+c.add.waits, c.addT.Round(time.Millisecond),
			c.remove.writes, c.remove.reads+c.remove.writes+c.remove.waits, c.removeT.Round(time.Millisecond))
	}
	return b.String()
}
