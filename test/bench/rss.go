package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/deploy"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

// measureRSS runs the CCM binary against the e2e control plane and fake-gce
// with many nodes and Services (backend-service backend) and reports its
// peak resident memory once every Service has its address.
func measureRSS(services, nodes int, memLimit string) (string, error) {
	ctx := context.Background()
	repo, err := cluster.RepoRoot()
	if err != nil {
		return "", err
	}
	kubeBin := filepath.Join(repo, "_output", "bin")
	if err := cluster.KubeBinaries(kubeBin); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "cpv-bench-rss-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bin")
	if err := cluster.BuildTree(ctx, repo, bin); err != nil {
		return "", err
	}
	cloud, err := cluster.StartFakeGCE(ctx, dir, filepath.Join(bin, "fake-gce"), 0,
		"--zones=us-central1-a,us-central1-b,us-central1-c", "--external-ip-range=198.18.0.0/15")
	if err != nil {
		return "", err
	}
	defer cloud.Stop()
	if err := cloud.EnsureVPC(ctx); err != nil {
		return "", err
	}
	cp, err := cluster.StartControlPlane(ctx, cluster.ControlPlaneOptions{Dir: dir, BinDir: kubeBin})
	if err != nil {
		return "", err
	}
	defer cp.Stop()
	objs, err := deploy.Render(filepath.Join(repo, "deploy", "overlays", "fake-gce"))
	if err != nil {
		return "", err
	}
	if err := cp.Apply(ctx, objs); err != nil {
		return "", err
	}
	token, err := cp.ServiceAccountToken(ctx, "kube-system", "cloud-controller-manager")
	if err != nil {
		return "", err
	}
	kubeconfig := filepath.Join(dir, "ccm.kubeconfig")
	if err := cp.WriteKubeconfig(kubeconfig, "ccm", token); err != nil {
		return "", err
	}
	conf, err := cluster.CloudConfig(objs, cloud.Endpoint)
	if err != nil {
		return "", err
	}
	// The default client-side limit (20 requests/s) would make this a
	// measure of the limit: a create takes 20 to 40 requests.
	conf = strings.Replace(conf, "[load-balancer]", "[load-balancer]\nbackend = backend-service", 1)
	conf = strings.Replace(conf, "[compute-api]", "[compute-api]\nqps = 2000\nburst = 2000", 1)
	confPath := filepath.Join(dir, "gce.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "bench: creating %d instances and nodes\n", nodes)
	if err := parallelN(nodes, 16, func(i int) error {
		zone := zoneOf(i)
		name := fmt.Sprintf("node-%d", i+1)
		if _, err := cloud.EnsureInstance(ctx, zone, name); err != nil {
			return err
		}
		n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
			Spec:   v1.NodeSpec{ProviderID: "gce://fake-project/" + zone + "/" + name},
			Status: v1.NodeStatus{Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}}}
		_, err := cp.Admin.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		return err
	}); err != nil {
		return "", err
	}
	var env []string
	if memLimit != "" {
		env = []string{"GOMEMLIMIT=" + memLimit}
	}
	ccm, err := cluster.StartCCMWithEnv(ctx, dir, filepath.Join(bin, "vpc-cloud-controller-manager"), "ccm", kubeconfig, confPath, "bench", env,
		"--concurrent-service-syncs=10", "--kube-api-qps=200", "--kube-api-burst=400", "--v=1")
	if err != nil {
		return "", err
	}
	defer ccm.Stop()
	fmt.Fprintf(os.Stderr, "bench: creating %d Services\n", services)
	lat, err := watchStatusLatency(ctx, cp, services)
	if err != nil {
		return "", err
	}
	start := time.Now()
	if err := parallelN(services, 16, func(i int) error {
		svc := service(i)
		svc.Namespace, svc.UID = "default", ""
		// 5,000 Services would exhaust the node-port range; a passthrough
		// load balancer delivers to the Service's IP and port, not a node port.
		svc.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
		lat.created(svc.Name)
		_, err := cp.Admin.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
		return err
	}); err != nil {
		return "", err
	}
	for {
		ready := lat.ready()
		fmt.Fprintf(os.Stderr, "bench: %d of %d Services have their address (%s)\n", ready, services, time.Since(start).Round(time.Second))
		if ready >= services {
			break
		}
		if !ccm.Running() {
			return "", fmt.Errorf("the CCM exited; see %s", ccm.LogPath())
		}
		time.Sleep(10 * time.Second)
	}
	p50, p99 := lat.percentiles()
	if path := os.Getenv("BENCH_HEAP_PROFILE"); path != "" {
		if err := saveHeapProfile(strings.TrimSuffix(ccm.HealthzURL, "/healthz")+"/debug/pprof/heap", path); err != nil {
			fmt.Fprintln(os.Stderr, "bench: heap profile:", err)
		}
	}
	rss, err := ccm.PeakRSS()
	if err != nil {
		return "", err
	}
	limit := ""
	if memLimit != "" {
		limit = ", `GOMEMLIMIT=" + memLimit + "`"
	}
	return fmt.Sprintf("\n## Memory\n\nThe CCM binary (`--concurrent-service-syncs=10 --kube-api-qps=200 --kube-api-burst=400`, backend-service backend, `[compute-api] qps = 2000`%s) against the e2e control plane and fake-gce (operations at once), with %d nodes and %d LoadBalancer Services created at once: all Services had their address after %s (from its creation to a Service's address, seen by a watch: p50 %s, p99 %s); peak RSS (VmHWM) %.0f MiB.\n",
		limit, nodes, services, time.Since(start).Round(time.Second), p50.Round(time.Millisecond), p99.Round(time.Millisecond), float64(rss)/(1<<20)), nil
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
