package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/deploy"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

// ccmRun is one run of the whole CCM binary against the e2e control plane
// and the fake-gce binary: nodes registered first, then Services created at
// once, timed from each creation request to the address seen by a watch.
type ccmRun struct {
	services, nodes int
	// mode is "external" or "nodeip"; backend the external backend.
	mode, backend string
	opLatency     time.Duration
	memLimit      string
	heapProfile   string
}

// ccmResult is one run's figures.
type ccmResult struct {
	load string // the 1-minute load average as the Services were created
	// allReady is from the first creation request to the last Service
	// seen with its address, both as the watch saw them.
	allReady time.Duration
	p50, p99 time.Duration
	rss      int64
}

// ccmRow is the runs of one mode and Service count.
type ccmRow struct {
	run  ccmRun
	runs []ccmResult
}

// buildBinaries builds the CCM and fake-gce once for every run, into a
// temporary folder whose bin directory it returns.
func buildBinaries() (string, error) {
	repo, err := cluster.RepoRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "cpv-bench-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bin")
	if err := cluster.BuildTree(context.Background(), repo, bin); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return bin, nil
}

// runCCMTimes makes runs runs of r, each with a new control plane, cloud
// and CCM.
func runCCMTimes(bin string, r ccmRun, runs int) (ccmRow, error) {
	row := ccmRow{run: r}
	for i := range runs {
		fmt.Fprintf(os.Stderr, "bench: %s, %d Services: run %d of %d\n", r.label(), r.services, i+1, runs)
		res, err := runCCM(bin, r)
		if err != nil {
			return row, err
		}
		row.runs = append(row.runs, res)
	}
	return row, nil
}

func (r ccmRun) label() string {
	if r.mode == "nodeip" {
		return "nodeip"
	}
	return "external, " + r.backend
}

// runCCM starts a control plane, fake-gce and the CCM, registers the nodes
// (Ready, with the instances' addresses, as kubelets would), creates the
// Services and waits until each has its address.
func runCCM(bin string, r ccmRun) (ccmResult, error) {
	ctx := context.Background()
	var res ccmResult
	repo, err := cluster.RepoRoot()
	if err != nil {
		return res, err
	}
	kubeBin, err := cluster.KubeBinDir(repo)
	if err != nil {
		return res, err
	}
	dir, err := os.MkdirTemp("", "cpv-bench-ccm-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	cloud, err := cluster.StartFakeGCE(ctx, dir, filepath.Join(bin, "fake-gce"), 0,
		"--zones=us-central1-a,us-central1-b,us-central1-c", "--external-ip-range=198.18.0.0/15",
		"--op-latency="+r.opLatency.String())
	if err != nil {
		return res, err
	}
	defer cloud.Stop()
	if err := cloud.EnsureVPC(ctx); err != nil {
		return res, err
	}
	cp, err := cluster.StartControlPlane(ctx, cluster.ControlPlaneOptions{Dir: dir, BinDir: kubeBin})
	if err != nil {
		return res, err
	}
	defer cp.Stop()
	objs, err := deploy.Render(filepath.Join(repo, "deploy", "overlays", "fake-gce"))
	if err != nil {
		return res, err
	}
	if err := cp.Apply(ctx, objs); err != nil {
		return res, err
	}
	token, err := cp.ServiceAccountToken(ctx, "kube-system", "cloud-controller-manager")
	if err != nil {
		return res, err
	}
	kubeconfig := filepath.Join(dir, "ccm.kubeconfig")
	if err := cp.WriteKubeconfig(kubeconfig, "ccm", token); err != nil {
		return res, err
	}
	conf, err := cluster.CloudConfig(objs, cloud.Endpoint)
	if err != nil {
		return res, err
	}
	conf = strings.Replace(conf, "[load-balancer]", "[load-balancer]\nbackend = "+r.backend, 1)
	// The default client-side limit (20 requests/s) would make this a
	// measure of the limit: a create takes 20 to 40 requests.
	conf = strings.Replace(conf, "[compute-api]", "[compute-api]\nqps = 2000\nburst = 2000", 1)
	confPath := filepath.Join(dir, "gce.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return res, err
	}
	fmt.Fprintf(os.Stderr, "bench: %s: creating %d instances and nodes\n", r.label(), r.nodes)
	if err := parallelN(r.nodes, 16, func(i int) error {
		zone := zoneOf(i)
		name := fmt.Sprintf("node-%d", i+1)
		inst, err := cloud.EnsureInstance(ctx, zone, name)
		if err != nil {
			return err
		}
		_, err = cp.Admin.CoreV1().Nodes().Create(ctx, benchNode(name, zone, inst), metav1.CreateOptions{})
		return err
	}); err != nil {
		return res, err
	}
	var env []string
	if r.memLimit != "" {
		env = []string{"GOMEMLIMIT=" + r.memLimit}
	}
	ccm, err := cluster.StartCCMWithEnv(ctx, dir, filepath.Join(bin, "vpc-cloud-controller-manager"), "ccm", kubeconfig, confPath, "bench", env,
		"--concurrent-service-syncs=10", "--kube-api-qps=200", "--kube-api-burst=400", "--v=1")
	if err != nil {
		return res, err
	}
	defer ccm.Stop()
	fmt.Fprintf(os.Stderr, "bench: %s: creating %d Services\n", r.label(), r.services)
	lat, err := watchStatusLatency(ctx, cp, r.services)
	if err != nil {
		return res, err
	}
	start := time.Now()
	res.load = loadAverage()
	if err := parallelN(r.services, 16, func(i int) error {
		svc := ccmService(i, r.mode)
		lat.created(svc.Name)
		_, err := cp.Admin.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
		return err
	}); err != nil {
		return res, err
	}
	// The figures come from the watch; the ticker only reports progress
	// and notices a CCM that exited.
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	for waiting := true; waiting; {
		select {
		case <-lat.done:
			waiting = false
		case <-progress.C:
			fmt.Fprintf(os.Stderr, "bench: %s: %d of %d Services have their address (%s)\n", r.label(), lat.ready(), r.services, time.Since(start).Round(time.Second))
			if !ccm.Running() {
				return res, fmt.Errorf("the CCM exited; see %s", ccm.LogPath())
			}
		}
	}
	res.allReady = lat.allReadyAfter()
	res.p50, res.p99 = lat.percentiles()
	if r.heapProfile != "" {
		if err := saveHeapProfile(strings.TrimSuffix(ccm.HealthzURL, "/healthz")+"/debug/pprof/heap", r.heapProfile); err != nil {
			fmt.Fprintln(os.Stderr, "bench: heap profile:", err)
		}
	}
	if res.rss, err = ccm.PeakRSS(); err != nil {
		return res, err
	}
	return res, nil
}

// benchNode is a node as a kubelet registers it once the CCM has
// initialised it: Ready, with its provider ID and the instance's addresses.
func benchNode(name, zone string, inst *compute.Instance) *v1.Node {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Spec: v1.NodeSpec{ProviderID: "gce://fake-project/" + zone + "/" + name},
		Status: v1.NodeStatus{Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue, LastHeartbeatTime: metav1.Now()}},
			Addresses: []v1.NodeAddress{{Type: v1.NodeHostName, Address: name}}}}
	if nics := inst.NetworkInterfaces; len(nics) > 0 {
		n.Status.Addresses = append(n.Status.Addresses, v1.NodeAddress{Type: v1.NodeInternalIP, Address: nics[0].NetworkIP})
		if acs := nics[0].AccessConfigs; len(acs) > 0 && acs[0].NatIP != "" {
			n.Status.Addresses = append(n.Status.Addresses, v1.NodeAddress{Type: v1.NodeExternalIP, Address: acs[0].NatIP})
		}
	}
	return n
}

// ccmService is the i-th Service of a run. Each nodeip Service has a port
// of its own: two on one port would conflict on every node.
func ccmService(i int, mode string) *v1.Service {
	svc := service(i)
	svc.Namespace, svc.UID = "default", ""
	// 5,000 Services would exhaust the node-port range; a passthrough
	// load balancer delivers to the Service's IP and port, not a node port.
	svc.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
	if mode == "nodeip" {
		svc.Annotations = map[string]string{annotations.Mode: "nodeip"}
		svc.Spec.Ports[0].Port = int32(20000 + i)
	}
	return svc
}

// memoryText is the report's memory section.
func memoryText(row ccmRow, command string) string {
	limit := ""
	if row.run.memLimit != "" {
		limit = ", `GOMEMLIMIT=" + row.run.memLimit + "`"
	}
	f := figuresOf(row.runs)
	return fmt.Sprintf("\n## Memory\n\n`%s`: the CCM binary (`--concurrent-service-syncs=10 --kube-api-qps=200 --kube-api-burst=400`, backend-service backend, `[compute-api] qps = 2000`%s) against the e2e control plane and fake-gce (operations at once), with %d nodes and %d LoadBalancer Services created at once, %d runs (median and range): all Services had their address after %s, seen by a watch (from its creation to a Service's address: p50 %s, p99 %s); peak RSS (VmHWM) %s; load average (1 min) as each run's Services were created: %s.\n",
		command, limit, row.run.nodes, row.run.services, len(row.runs), spread(f.allReady), spread(f.p50), spread(f.p99), mibSpread(f.rss), strings.Join(f.loads, ", "))
}

// ccmText is the report's section on the whole CCM's status latency.
func ccmText(rows []ccmRow, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## The whole CCM\n\n`%s`: the CCM binary against the e2e control plane and the fake-gce binary (operations take %s), %d Ready nodes, Services created at once, each timed from its creation request to its address as a watch on the API server sees it (`--concurrent-service-syncs=10 --kube-api-qps=200`); \"all ready\" is from the first creation request to the last address the watch saw. Median and range of %d runs; the load column is the 1-minute load average as each run's Services were created.\n\n",
		command, rows[0].run.opLatency, rows[0].run.nodes, len(rows[0].runs))
	fmt.Fprintln(&b, "| mode | Services | time to status p50 | p99 | all ready after | CCM peak RSS | load |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|")
	for _, r := range rows {
		f := figuresOf(r.runs)
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n", r.run.label(), r.run.services,
			spread(f.p50), spread(f.p99), spread(f.allReady), mibSpread(f.rss), strings.Join(f.loads, ", "))
	}
	return b.String()
}

// ccmFigures are the runs' figures side by side.
type ccmFigures struct {
	p50, p99, allReady []time.Duration
	rss                []int64
	loads              []string
}

func figuresOf(runs []ccmResult) ccmFigures {
	var f ccmFigures
	for _, r := range runs {
		f.p50, f.p99, f.allReady = append(f.p50, r.p50), append(f.p99, r.p99), append(f.allReady, r.allReady)
		f.rss, f.loads = append(f.rss, r.rss), append(f.loads, r.load)
	}
	return f
}

// mibSpread is the median of the sizes in MiB and, with more than one,
// their range.
func mibSpread(bs []int64) string {
	s := slices.Clone(bs)
	slices.Sort(s)
	mib := func(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }
	if len(s) == 1 {
		return mib(s[0]) + " MiB"
	}
	return fmt.Sprintf("%s MiB (%s–%s)", mib(s[len(s)/2]), mib(s[0]), mib(s[len(s)-1]))
}

// parallelN runs f for 0..n-1 with the given number of workers.
func parallelN(n, workers int, f func(i int) error) error {
	_, err := each(n, workers, f)
	return err
}

// saveHeapProfile fetches the CCM's heap profile as the cluster admin.
func saveHeapProfile(url, path string) error {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+cluster.AdminToken)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
