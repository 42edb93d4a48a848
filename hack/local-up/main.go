// Command local-up runs a whole cluster on this machine for a newcomer to
// try the project: fake-gce with a small VPC and three instances, etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler, a hollow
// kubelet for each instance (hack/tools/hollow-node: the real kubelet code
// with a fake container runtime, so pods are scheduled, run and become
// Ready, but no container runs and no packet reaches them), the
// vpc-cloud-controller-manager with the RBAC and config of deploy/, and a
// Deployment behind each demo Service. State is kept under _output/local-up,
// so a second run resumes. Ctrl-C (or hack/local-up.sh --down) stops
// everything.
//
// The kubelet wants its --node-ip to be an address of the host, so the
// instances' internal IPs are added to a link of local-up's own: that needs
// root (CAP_NET_ADMIN).
//
// Run it through make local-up or hack/local-up.sh, which build what it needs.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/deploy"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

// Fixed loopback ports, so that a resumed run keeps its addresses.
const (
	fakeGCEPort  = 18085
	etcdPort     = 23790
	etcdPeerPort = 23800
	apiPort      = 16443
)

var nodes = []struct{ zone, name string }{
	{"us-central1-a", "node-1"}, {"us-central1-b", "node-2"}, {"us-central1-c", "node-3"},
}

// clusterCIDR is where kube-controller-manager's node IPAM takes each
// node's pod CIDR from (a /24 each), as in the packet lab's address plan.
const clusterCIDR = "10.64.0.0/14"

// clusterName is the CCM's --cluster-name: the name of every cloud resource
// of the local cluster starts with it (kubectl vpc trace needs it too).
const clusterName = "local-up"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "local-up:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

func run() error {
	repo, err := cluster.RepoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(repo, "_output", "bin")
	dir := filepath.Join(repo, "_output", "local-up")
	if err := cluster.KubeBinaries(bin); err != nil {
		return err
	}
	if err := cluster.RealComponentsBuilt(bin); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	os.Remove(filepath.Join(dir, "ready"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	resumed := fileExists(filepath.Join(dir, "fake-gce.state"))
	step("starting fake-gce on 127.0.0.1:%d (state in %s)", fakeGCEPort, filepath.Join(dir, "fake-gce.state"))
	cloud, err := cluster.StartFakeGCE(ctx, dir, filepath.Join(bin, "fake-gce"), fakeGCEPort,
		"--state-file="+filepath.Join(dir, "fake-gce.state"), "--zones=us-central1-a,us-central1-b,us-central1-c")
	if err != nil {
		return err
	}
	defer cloud.Stop()
	step("creating the VPC and %d instances (skipping what exists)", len(nodes))
	if err := cloud.EnsureVPC(ctx); err != nil {
		return err
	}
	nodeIPs := map[string]string{}
	for _, n := range nodes {
		inst, err := cloud.EnsureInstance(ctx, n.zone, n.name)
		if err != nil {
			return err
		}
		nodeIPs[n.name] = inst.NetworkInterfaces[0].NetworkIP
	}

	step("starting etcd and kube-apiserver on 127.0.0.1:%d", apiPort)
	cp, err := cluster.StartControlPlane(ctx, cluster.ControlPlaneOptions{Dir: dir, BinDir: bin,
		EtcdPort: etcdPort, EtcdPeerPort: etcdPeerPort, APIPort: apiPort})
	if err != nil {
		return err
	}
	defer cp.Stop()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := cp.WriteKubeconfig(kubeconfig, "admin", cluster.AdminToken); err != nil {
		return err
	}

	step("starting kube-controller-manager (pod CIDRs from %s) and kube-scheduler", clusterCIDR)
	kcm, err := cp.StartControllerManager(ctx, cluster.ControllerManagerOptions{BinDir: bin, ClusterCIDR: clusterCIDR})
	if err != nil {
		return err
	}
	defer kcm.Stop()
	sched, err := cp.StartScheduler(ctx, bin)
	if err != nil {
		return err
	}
	defer sched.Stop()

	step("applying deploy/overlays/fake-gce (RBAC, config) and starting the CCM with its ServiceAccount")
	objs, err := deploy.Render(filepath.Join(repo, "deploy", "overlays", "fake-gce"))
	if err != nil {
		return err
	}
	if err := cp.Apply(ctx, objs); err != nil {
		return err
	}
	token, err := cp.ServiceAccountToken(ctx, "kube-system", "cloud-controller-manager")
	if err != nil {
		return err
	}
	ccmKubeconfig := filepath.Join(dir, "ccm.kubeconfig")
	if err := cp.WriteKubeconfig(ccmKubeconfig, "cloud-controller-manager", token); err != nil {
		return err
	}
	cloudConfig := filepath.Join(dir, "gce.conf")
	conf, err := cluster.CloudConfig(objs, cloud.Endpoint)
	if err != nil {
		return err
	}
	if err := os.WriteFile(cloudConfig, []byte(conf), 0o600); err != nil {
		return err
	}
	ccm, err := cluster.StartCCM(ctx, dir, filepath.Join(bin, "vpc-cloud-controller-manager"), "vpc-cloud-controller-manager",
		ccmKubeconfig, cloudConfig, clusterName)
	if err != nil {
		return err
	}
	defer ccm.Stop()

	step("starting %d hollow kubelets (--cloud-provider=external, --node-ip the instance's IP)", len(nodes))
	for _, n := range nodes {
		h, err := cp.StartHollowNode(ctx, cluster.HollowNodeOptions{BinDir: bin, Name: n.name, NodeIP: nodeIPs[n.name]})
		if err != nil {
			return err
		}
		defer h.Stop()
	}
	step("waiting for the CCM to initialise the nodes")
	if err := waitInitialised(ctx, cp); err != nil {
		return err
	}
	step("creating the demo Deployments and their LoadBalancer Services (skipping what exists)")
	if err := ensureDemoServices(ctx, cp); err != nil {
		return err
	}
	if err := waitDemoPods(ctx, cp); err != nil {
		return err
	}

	envFile := filepath.Join(dir, "env")
	env := fmt.Sprintf("export KUBECONFIG=%s\nexport FAKE_GCE_ENDPOINT=%s\nexport GCE_METADATA_HOST=%s\nexport CLOUD_CONFIG=%s\nexport CLUSTER_NAME=%s\nexport CCM_LOG=%s\nexport PATH=%s:$PATH\n",
		kubeconfig, cloud.Endpoint, cloud.Host, cloudConfig, clusterName, ccm.LogPath(), bin)
	if err := os.WriteFile(envFile, []byte(env), 0o644); err != nil {
		return err
	}
	summary, err := summarize(ctx, cp, cloud, kubeconfig, envFile, resumed)
	if err != nil {
		return err
	}
	fmt.Print(summary)
	os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(summary), 0o644)
	os.WriteFile(filepath.Join(dir, "ready"), []byte(time.Now().Format(time.RFC3339)+"\n"), 0o644)
	defer os.Remove(filepath.Join(dir, "ready"))

	<-ctx.Done()
	step("stopping (state kept in %s; run again to resume)", dir)
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func waitInitialised(ctx context.Context, cp *cluster.ControlPlane) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		list, err := cp.Admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		done := 0
		if err == nil {
			for _, n := range list.Items {
				if n.Spec.ProviderID != "" && !tainted(&n) {
					done++
				}
			}
		}
		if done >= len(nodes) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("the CCM did not initialise the nodes within 2 minutes; see its log in _output/local-up/logs")
}

func tainted(n *v1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == cluster.UninitializedTaint {
			return true
		}
	}
	return false
}

func summarize(ctx context.Context, cp *cluster.ControlPlane, cloud *cluster.FakeGCE, kubeconfig, envFile string, resumed bool) (string, error) {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	state := "new"
	if resumed {
		state = "resumed from saved state"
	}
	fmt.Fprintf(&b, "\nThe local cluster is up (%s).\n\n", state)
	fmt.Fprintf(&b, "Use it:\n  source %s        # KUBECONFIG, FAKE_GCE_ENDPOINT, CLOUD_CONFIG, CLUSTER_NAME, CCM_LOG, kubectl and kubectl-vpc on PATH\n", envFile)
	fmt.Fprintf(&b, "  kubectl get nodes,pods -o wide\n  kubectl vpc trace demo-external --cloud-config $CLOUD_CONFIG --cluster-name $CLUSTER_NAME\n")
	fmt.Fprintf(&b, "  kubectl create deployment web --image=nginx && kubectl expose deployment web --type=LoadBalancer --port 80\n")
	fmt.Fprintf(&b, "  curl -s $FAKE_GCE_ENDPOINT/projects/fake-project/zones/us-central1-a/instances\n\n")
	nodesList, err := cp.Admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	fmt.Fprintln(w, "NODE\tPROVIDER ID\tZONE\tINTERNAL IP\tEXTERNAL IP\tTYPE")
	for _, n := range nodesList.Items {
		addr := map[v1.NodeAddressType]string{}
		for _, a := range n.Status.Addresses {
			if addr[a.Type] == "" {
				addr[a.Type] = a.Address
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Spec.ProviderID, n.Labels["topology.kubernetes.io/zone"],
			addr[v1.NodeInternalIP], addr[v1.NodeExternalIP], n.Labels["node.kubernetes.io/instance-type"])
	}
	w.Flush()
	fmt.Fprintln(&b, "\nCloud resources in fake-gce:")
	agg, err := cloud.Compute.Instances.AggregatedList(cloud.Project).Context(ctx).Do()
	if err != nil {
		return "", err
	}
	for scope, l := range agg.Items {
		for _, i := range l.Instances {
			fmt.Fprintf(w, "  instance\t%s\t%s\t%s\n", i.Name, scope, i.Status)
		}
	}
	w.Flush()
	fmt.Fprintln(&b, "\nLoadBalancer Services:")
	svcs, err := cp.Admin.CoreV1().Services("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	fmt.Fprintln(w, "  SERVICE\tMODE\tPORTS\tEXTERNAL IPS")
	for _, svc := range svcs.Items {
		if svc.Spec.Type != v1.ServiceTypeLoadBalancer {
			continue
		}
		var ips, ports []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			ips = append(ips, in.IP)
		}
		for _, p := range svc.Spec.Ports {
			ports = append(ports, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", svc.Name, svc.Labels["demo-mode"], strings.Join(ports, ","), strings.Join(ips, ","))
	}
	w.Flush()
	fmt.Fprintln(&b, "\nTheir pods (hollow: scheduled, Running and Ready, no container runs) and endpoints:")
	if err := listDemoPods(ctx, cp, w); err != nil {
		return "", err
	}
	w.Flush()
	fmt.Fprintln(&b, "\nTheir cloud resources in fake-gce:")
	if err := listLoadBalancerResources(ctx, cloud, w); err != nil {
		return "", err
	}
	w.Flush()
	fmt.Fprintln(&b, "Stop with Ctrl-C (or hack/local-up.sh --down); a second run resumes.")
	return b.String(), nil
}

// demoServices are one LoadBalancer Service per mode.
var demoServices = []struct{ name, mode string }{{"demo-external", "external"}, {"demo-nodeip", "nodeip"}}

func ensureDemoServices(ctx context.Context, cp *cluster.ControlPlane) error {
	for _, d := range demoServices {
		if err := ensureDemoDeployment(ctx, cp, d.name); err != nil {
			return err
		}
		svc := &v1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: d.name, Labels: map[string]string{"demo-mode": d.mode},
				Annotations: map[string]string{"cloud-provider-vpc.io/load-balancer-mode": d.mode}},
			Spec: v1.ServiceSpec{Type: v1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": d.name},
				Ports: []v1.ServicePort{{Name: "http", Port: 80, Protocol: v1.ProtocolTCP}}},
		}
		_, err := cp.Admin.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create Service %s: %w", d.name, err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, d := range demoServices {
		for {
			svc, err := cp.Admin.CoreV1().Services("default").Get(ctx, d.name, metav1.GetOptions{})
			if err == nil && len(svc.Status.LoadBalancer.Ingress) > 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("Service %s got no address within 2 minutes; see the CCM's log and kubectl describe service %s", d.name, d.name)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

// listLoadBalancerResources prints the cluster's load balancer resources.
func listLoadBalancerResources(ctx context.Context, cloud *cluster.FakeGCE, w *tabwriter.Writer) error {
	p, r := cloud.Project, cluster.Region
	frs, err := cloud.Compute.ForwardingRules.List(p, r).Context(ctx).Do()
	if err != nil {
		return err
	}
	for _, x := range frs.Items {
		target, ports := x.Target, x.PortRange
		if x.BackendService != "" {
			target, ports = x.BackendService, strings.Join(x.Ports, ",")
		}
		fmt.Fprintf(w, "  forwarding rule\t%s\t%s %s:%s -> %s\n", x.Name, x.IPProtocol, x.IPAddress, ports, lastPart(target))
	}
	tps, err := cloud.Compute.TargetPools.List(p, r).Context(ctx).Do()
	if err != nil {
		return err
	}
	for _, x := range tps.Items {
		fmt.Fprintf(w, "  target pool\t%s\t%d instances\n", x.Name, len(x.Instances))
	}
	bss, err := cloud.Compute.RegionBackendServices.List(p, r).Context(ctx).Do()
	if err != nil {
		return err
	}
	for _, x := range bss.Items {
		fmt.Fprintf(w, "  backend service\t%s\t%s, %d zone groups\n", x.Name, x.LoadBalancingScheme, len(x.Backends))
	}
	igs, err := cloud.Compute.InstanceGroups.AggregatedList(p).Context(ctx).Do()
	if err != nil {
		return err
	}
	for _, scoped := range igs.Items {
		for _, x := range scoped.InstanceGroups {
			fmt.Fprintf(w, "  instance group\t%s\t%d instances\n", x.Name, x.Size)
		}
	}
	rhcs, err := cloud.Compute.RegionHealthChecks.List(p, r).Context(ctx).Do()
	if err != nil {
		return err
	}
	for _, x := range rhcs.Items {
		if x.HttpHealthCheck != nil {
			fmt.Fprintf(w, "  health check\t%s\t:%d%s\n", x.Name, x.HttpHealthCheck.Port, x.HttpHealthCheck.RequestPath)
		}
	}
	as, err := cloud.Compute.Addresses.List(p, r).Context(ctx).Do()
	if err != nil {
		return err
	}
	for _, x := range as.Items {
		fmt.Fprintf(w, "  address\t%s\t%s %s\n", x.Name, x.Address, x.Status)
	}
	hcs, err := cloud.Compute.HttpHealthChecks.List(p).Context(ctx).Do()
	if err != nil {
		return err
	}
	for _, x := range hcs.Items {
		fmt.Fprintf(w, "  health check\t%s\t:%d%s\n", x.Name, x.Port, x.RequestPath)
	}
	fws, err := cloud.Compute.Firewalls.List(p).Context(ctx).Do()
	if err != nil {
		return err
	}
	for _, x := range fws.Items {
		var allowed []string
		for _, a := range x.Allowed {
			allowed = append(allowed, a.IPProtocol+":"+strings.Join(a.Ports, ","))
		}
		fmt.Fprintf(w, "  firewall\t%s\t%s from %s to %s\n", x.Name, strings.Join(allowed, " "), strings.Join(x.SourceRanges, ","), strings.Join(x.DestinationRanges, ","))
	}
	return nil
}

func lastPart(s string) string { return s[strings.LastIndex(s, "/")+1:] }
