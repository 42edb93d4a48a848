// Package lab_test is the packet lab (docs/lab.md): real TCP connections
// from a client namespace cross a fake VPC (the data plane, from fake-gce's
// state) into node namespaces where the real kube-proxy forwards them to
// pods. The control plane, fake-gce and the CCM are the e2e suite's
// (test/e2e/cluster). Run it with make lab; it needs root and skips
// without it.
package lab_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/deploy"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/lab/topology"
)

// nodeCount is how many nodes the lab has.
const nodeCount = 3

// env is what every test shares: one cloud, one control plane, one lab.
type env struct {
	dir   string
	bin   string
	cloud *cluster.FakeGCE
	cp    *cluster.ControlPlane
	lab   *topology.Lab
	ccm   *cluster.CCM
	// dataplane is cmd/fake-gce-dataplane, the VPC router's behaviour.
	dataplane *cluster.Process
	kubelet   map[string]*cluster.Kubelet
	proxy     map[string]*topology.KubeProxy
	// proxyMode is the mode every kube-proxy runs in; kubeBin and
	// proxyKubeconfig restart them in another (useProxyMode).
	proxyMode, kubeBin, proxyKubeconfig string
	pod                                 map[string]*topology.Pod
	natIP                               map[string]netip.Addr // the nodes' external addresses
}

var (
	e *env
	// skipReason is set when this machine cannot run the lab.
	skipReason string
)

func TestMain(m *testing.M) {
	if err := topology.Available(); err != nil {
		if topology.Required() {
			fmt.Fprintf(os.Stderr, "lab: cannot run and %s is set: %v\n", topology.RequireEnv, err)
			os.Exit(1)
		}
		skipReason = err.Error()
		fmt.Fprintln(os.Stderr, "lab: skipping every test:", skipReason)
		os.Exit(m.Run())
	}
	code, err := runLab(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// requireLab skips a test on a machine that cannot run the lab.
func requireLab(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skipf("skipping the packet lab: %s", skipReason)
	}
}

func runLab(m *testing.M) (code int, err error) {
	repo, err := cluster.RepoRoot()
	if err != nil {
		return 0, err
	}
	kubeBin, err := cluster.KubeBinDir(repo)
	if err != nil {
		return 0, err
	}
	if _, err := os.Stat(filepath.Join(kubeBin, "kube-proxy")); err != nil {
		return 0, fmt.Errorf("kube-proxy is missing from %s: run make kube-binaries", kubeBin)
	}
	for _, tool := range []string{"iptables", "iptables-restore", "conntrack"} {
		if _, err := exec.LookPath(tool); err != nil {
			return 0, fmt.Errorf("%s is not installed: run test/lab/install-deps.sh (make lab does)", tool)
		}
	}
	dir, err := os.MkdirTemp("", "cpv-lab-")
	if err != nil {
		return 0, err
	}
	e = &env{dir: dir, bin: filepath.Join(dir, "bin"), kubelet: map[string]*cluster.Kubelet{},
		proxy: map[string]*topology.KubeProxy{}, pod: map[string]*topology.Pod{},
		natIP: map[string]netip.Addr{}}
	defer func() {
		e.stop()
		if code != 0 || err != nil {
			fmt.Fprintf(os.Stderr, "lab: logs of every component are kept in %s/logs\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	start := time.Now()
	if err := e.start(context.Background(), repo, kubeBin); err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stderr, "lab: up in %s (prefix %s)\n", time.Since(start).Round(100*time.Millisecond), e.lab.Prefix)
	return m.Run(), nil
}

// start brings up, in order: fake-gce with the VPC and its instances, the
// namespaces (they need the instances' addresses), the control plane on the
// management bridge, the CCM, the data plane, the simulated kubelets,
// kube-proxy on every node, and the pods.
func (e *env) start(ctx context.Context, repo, kubeBin string) error {
	if err := cluster.BuildTree(ctx, repo, e.bin); err != nil {
		return err
	}
	var err error
	e.cloud, err = cluster.StartFakeGCE(ctx, e.dir, filepath.Join(e.bin, "fake-gce"), 0,
		"--zones="+zones[0]+","+zones[1]+","+zones[2], "--external-ip-range="+externalIPRange)
	if err != nil {
		return err
	}
	specs, vms, err := e.createVPC(ctx)
	if err != nil {
		return err
	}
	if e.lab, err = topology.Up(topology.Config{Nodes: specs, VMs: vms}); err != nil {
		return err
	}
	if err := e.lab.AddClientAddress(otherClient); err != nil {
		return err
	}
	e.cp, err = cluster.StartControlPlane(ctx, cluster.ControlPlaneOptions{Dir: e.dir, BinDir: kubeBin,
		BindAddress: e.lab.MgmtAddr.String()})
	if err != nil {
		return err
	}
	if err := e.startCCM(ctx, repo); err != nil {
		return err
	}
	if err := e.startDataPlane(ctx, repo); err != nil {
		return err
	}
	for _, s := range specs {
		if e.kubelet[s.Name], err = e.cp.StartKubelet(ctx, s.Name, time.Second); err != nil {
			return err
		}
		if err := setPodCIDR(ctx, e.cp, s.Name, s.PodCIDR); err != nil {
			return err
		}
	}
	kubeconfig, err := topology.WriteKubeProxyKubeconfig(ctx, e.cp, e.dir)
	if err != nil {
		return err
	}
	e.kubeBin, e.proxyKubeconfig, e.proxyMode = kubeBin, kubeconfig, defaultProxyMode
	for _, n := range e.lab.Nodes {
		kp, err := topology.StartKubeProxy(ctx, n, topology.KubeProxyOptions{
			Bin: filepath.Join(kubeBin, "kube-proxy"), Dir: e.dir, Kubeconfig: kubeconfig, Mode: defaultProxyMode})
		if err != nil {
			return err
		}
		e.proxy[n.Name] = kp
	}
	for _, n := range e.lab.Nodes {
		p, err := e.lab.AddPod(n, n.Name+"-a")
		if err != nil {
			return err
		}
		e.pod[p.Name] = p
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, n := range e.lab.Nodes {
		if err := e.proxy[n.Name].WaitSynced(wctx); err != nil {
			return err
		}
	}
	return cluster.Until(60*time.Second, "every node initialised by the CCM", func() (bool, error) {
		for _, n := range e.lab.Nodes {
			if ok, err := initialised(ctx, e.cp, n.Name); !ok {
				return false, err
			}
		}
		return true, nil
	})
}

// startCCM runs the CCM as e2e does (deploy/overlays/fake-gce's RBAC and
// gce.conf), and with the route controller on, so that the nodes' pod CIDRs
// become VPC routes.
func (e *env) startCCM(ctx context.Context, repo string) error {
	objs, err := deploy.Render(filepath.Join(repo, "deploy", "overlays", "fake-gce"))
	if err != nil {
		return err
	}
	if err := e.cp.Apply(ctx, objs); err != nil {
		return err
	}
	token, err := e.cp.ServiceAccountToken(ctx, "kube-system", "cloud-controller-manager")
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(e.dir, "ccm.kubeconfig")
	if err := e.cp.WriteKubeconfig(kubeconfig, "cloud-controller-manager", token); err != nil {
		return err
	}
	conf, err := cluster.CloudConfig(objs, e.cloud.Endpoint)
	if err != nil {
		return err
	}
	// The lab's network is in custom mode: internal load balancers take
	// their addresses from the nodes' subnetwork, which the CCM is told.
	conf = strings.Replace(conf, "[global]\n", "[global]\nsubnetwork-name = "+subnetwork+"\n", 1)
	cloudConfig := filepath.Join(e.dir, "gce.conf")
	if err := os.WriteFile(cloudConfig, []byte(conf), 0o600); err != nil {
		return err
	}
	e.ccm, err = cluster.StartCCM(ctx, e.dir, filepath.Join(e.bin, "vpc-cloud-controller-manager"), "ccm", kubeconfig,
		cloudConfig, clusterName, "--configure-cloud-routes=true", "--cluster-cidr="+clusterCIDR,
		"--route-reconciliation-period=2s")
	return err
}

// stop ends everything start began, the namespaces last but one: processes
// inside them first, so that the kernel can free them.
func (e *env) stop() {
	for _, kp := range e.proxy {
		kp.Stop()
	}
	for _, k := range e.kubelet {
		k.Stop(context.Background(), false)
	}
	if e.ccm != nil {
		e.ccm.Stop()
	}
	if e.cp != nil {
		e.cp.Stop()
	}
	if e.dataplane != nil {
		// It removes its table, rules and routes, and lets go of the vpc
		// namespace.
		e.dataplane.Stop(10 * time.Second)
	}
	if e.lab != nil {
		if err := e.lab.Down(); err != nil {
			fmt.Fprintln(os.Stderr, "lab: tearing the namespaces down:", err)
		}
	}
	if e.cloud != nil {
		e.cloud.Stop()
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	if err := cluster.Until(timeout, what, cond); err != nil {
		t.Fatal(err)
	}
}

// node is the lab's node name.
func node(name string) *topology.Node { return e.lab.Node(name) }
