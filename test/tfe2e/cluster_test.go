package tfe2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/deploy"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

const (
	// clusterName is the example's cluster_name, which is also the CCM's
	// --cluster-name (docs/terraform.md).
	clusterName    = "tf-e2e"
	project        = "fake-project"
	convergeWithin = 60 * time.Second
)

// exampleOutputs are the outputs of deploy/terraform/examples/fake-gce.
type exampleOutputs struct {
	NodeNames           []string              `json:"node_names"`
	Nodes               map[string]nodeOutput `json:"nodes"`
	ReservedAddress     string                `json:"reserved_address"`
	ReservedAddressName string                `json:"reserved_address_name"`
	CloudConfig         string                `json:"cloud_config"`
}

type nodeOutput struct {
	Zone       string  `json:"zone"`
	Role       string  `json:"role"`
	InternalIP string  `json:"internal_ip"`
	ExternalIP *string `json:"external_ip"`
}

// TestTerraformCluster is the path of a terraform-built cluster, on fake-gce:
// apply the fake-gce example, plan again and see no change, register its
// instances as Nodes, let the CCM initialise them and serve a LoadBalancer
// Service on the reserved address, then destroy and find fake-gce empty.
func TestTerraformCluster(t *testing.T) {
	mirror := os.Getenv("TF_PROVIDER_MIRROR")
	if mirror == "" {
		t.Skip(noMirror)
	}
	if fi, err := os.Stat(mirror); err != nil || !fi.IsDir() {
		t.Fatalf("TF_PROVIDER_MIRROR=%s is not a folder (docs/terraform.md says how to make one)", mirror)
	}
	tf := newTofu(t, mirror)
	e := startEnv(t)
	dir := filepath.Join(copyModule(t), "examples", "fake-gce")
	endpoint := "-var=endpoint=" + e.cloud.Endpoint

	tf.run(t, dir, "init", "-input=false", "-no-color")
	tf.run(t, dir, "apply", "-auto-approve", "-input=false", "-no-color", endpoint)
	out, code, err := tf.exec(dir, "plan", "-detailed-exitcode", "-input=false", "-no-color", endpoint)
	if err != nil || code != 0 {
		t.Fatalf("the plan right after apply is not empty (exit %d, %v): fake-gce answered something the provider "+
			"reads back differently from what it sent\n%s", code, err, out)
	}
	var outputs exampleOutputs
	tf.outputs(t, dir, &outputs)
	t.Logf("terraform made %v; reserved address %s (%s)", outputs.NodeNames, outputs.ReservedAddressName, outputs.ReservedAddress)

	e.runCluster(t, outputs)

	tf.run(t, dir, "destroy", "-auto-approve", "-input=false", "-no-color", endpoint)
	if left := e.resources(t, ""); len(left) > 0 {
		t.Errorf("after destroy fake-gce still holds %v", left)
	}
}

// env is a fake cloud and the binaries of this tree.
type env struct {
	dir, bin, kubeBin string
	cloud             *cluster.FakeGCE
}

// startEnv builds the CCM and fake-gce and starts fake-gce with the example's
// three zones. Every process's log stays in a folder kept when the test fails.
func startEnv(t *testing.T) *env {
	t.Helper()
	repo := repoRoot(t)
	kubeBin, err := cluster.KubeBinDir(repo)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "cpv-tfe2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the logs of every component are kept in %s/logs", dir)
			return
		}
		os.RemoveAll(dir)
	})
	e := &env{dir: dir, bin: filepath.Join(dir, "bin"), kubeBin: kubeBin}
	ctx := context.Background()
	if err := cluster.BuildTree(ctx, repo, e.bin); err != nil {
		t.Fatal(err)
	}
	e.cloud, err = cluster.StartFakeGCE(ctx, dir, filepath.Join(e.bin, "fake-gce"), 0,
		"--zones=us-central1-a,us-central1-b,us-central1-c")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cloud.Stop)
	return e
}

// runCluster starts a control plane with deploy/'s RBAC,
// kube-controller-manager, kube-scheduler, a hollow kubelet for every
// instance terraform made and the CCM with terraform's gce.conf, and checks
// the nodes and a LoadBalancer Service. It stops the kubelets and
// the CCM before it returns, once the Service's cloud resources are gone.
func (e *env) runCluster(t *testing.T, out exampleOutputs) {
	t.Helper()
	ctx := context.Background()
	cp, err := cluster.StartControlPlane(ctx, cluster.ControlPlaneOptions{Dir: e.dir, BinDir: e.kubeBin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	kubeconfig := e.installCCMManifests(t, cp)
	cloudConfig := filepath.Join(e.dir, "gce.conf")
	// The Service of checkLoadBalancer asks for terraform's reserved
	// address by name: an address this cluster did not reserve is a
	// namespace's only when the operator grants it.
	conf := out.CloudConfig + "\n[load-balancer]\nuser-addresses = default/" + out.ReservedAddressName + "\n"
	if err := os.WriteFile(cloudConfig, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// The rest of a cluster, as in the e2e suite's real* tests:
	// kube-controller-manager (node IPAM, node lifecycle, endpoint
	// slices), kube-scheduler, and a hollow kubelet (the real kubelet code,
	// --cloud-provider=external, --node-ip the instance's internal IP) for
	// every instance terraform made.
	kcm, err := cp.StartControllerManager(ctx, cluster.ControllerManagerOptions{BinDir: e.kubeBin})
	if err != nil {
		t.Fatal(err)
	}
	defer kcm.Stop()
	sched, err := cp.StartScheduler(ctx, e.kubeBin)
	if err != nil {
		t.Fatal(err)
	}
	defer sched.Stop()
	for _, name := range out.NodeNames {
		h, err := cp.StartHollowNode(ctx, cluster.HollowNodeOptions{BinDir: e.kubeBin, Name: name, NodeIP: out.Nodes[name].InternalIP})
		if err != nil {
			t.Fatalf("%v (the e2e control plane knows node-1 ... node-64 only)", err)
		}
		defer h.Stop()
	}
	// The example's gce.conf says token-url = nil, Application Default
	// Credentials: fake-gce's metadata server hands out the token.
	ccm, err := cluster.StartCCMWithEnv(ctx, e.dir, filepath.Join(e.bin, "vpc-cloud-controller-manager"), "ccm-tf",
		kubeconfig, cloudConfig, clusterName, []string{"GCE_METADATA_HOST=" + e.cloud.Host, "GOOGLE_APPLICATION_CREDENTIALS="})
	if err != nil {
		t.Fatal(err)
	}
	defer ccm.Stop()

	for _, name := range out.NodeNames {
		checkNode(t, cp, name, out.Nodes[name])
	}
	checkLoadBalancer(t, cp, e, out)
	if ccm.LogContains(" is forbidden: ") {
		t.Errorf("the CCM was refused a call by RBAC; see %s", ccm.LogPath())
	}
}

// installCCMManifests applies deploy/overlays/fake-gce and returns a
// kubeconfig with its ServiceAccount's token, so the CCM runs with the RBAC
// a user deploys.
func (e *env) installCCMManifests(t *testing.T, cp *cluster.ControlPlane) string {
	t.Helper()
	ctx := context.Background()
	objs, err := deploy.Render(filepath.Join(repoRoot(t), "deploy", "overlays", "fake-gce"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	token, err := cp.ServiceAccountToken(ctx, "kube-system", "cloud-controller-manager")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, "ccm.kubeconfig")
	if err := cp.WriteKubeconfig(path, "cloud-controller-manager", token); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkNode waits until the CCM has initialised node name as terraform's
// outputs describe its instance: providerID, zone and region labels, and
// the internal and external IPs.
func checkNode(t *testing.T, cp *cluster.ControlPlane, name string, want nodeOutput) {
	t.Helper()
	var n *v1.Node
	eventually(t, "node "+name+" initialised", func() (bool, error) {
		var err error
		n, err = cp.Admin.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		return err == nil && n.Spec.ProviderID != "" && !hasTaint(n, cluster.UninitializedTaint), err
	})
	if w := fmt.Sprintf("gce://%s/%s/%s", project, want.Zone, name); n.Spec.ProviderID != w {
		t.Errorf("node %s: providerID %q, want %q", name, n.Spec.ProviderID, w)
	}
	region := want.Zone[:strings.LastIndex(want.Zone, "-")]
	for k, w := range map[string]string{"topology.kubernetes.io/zone": want.Zone, "topology.kubernetes.io/region": region} {
		if n.Labels[k] != w {
			t.Errorf("node %s: label %s = %q, want %q", name, k, n.Labels[k], w)
		}
	}
	wantAddrs := map[v1.NodeAddressType]string{v1.NodeInternalIP: want.InternalIP}
	if want.ExternalIP != nil {
		wantAddrs[v1.NodeExternalIP] = *want.ExternalIP
	}
	for _, a := range n.Status.Addresses {
		if wantAddrs[a.Type] == a.Address {
			delete(wantAddrs, a.Type)
		}
	}
	if len(wantAddrs) > 0 {
		t.Errorf("node %s: addresses %v lack %v (terraform's outputs)", name, n.Status.Addresses, wantAddrs)
	}
}

// checkLoadBalancer creates a LoadBalancer Service on terraform's reserved
// address, waits for it to be served there, deletes it and waits until the
// CCM has removed every cloud resource it made (but not the address).
func checkLoadBalancer(t *testing.T, cp *cluster.ControlPlane, e *env, out exampleOutputs) {
	t.Helper()
	ctx := context.Background()
	services := cp.Admin.CoreV1().Services("default")
	svc := fixture.Service("web", fixture.LoadBalancer(), fixture.Annotation(annotations.StaticAddress, out.ReservedAddressName),
		fixture.Selector(map[string]string{"app": "web"}), fixture.HTTPPort(0, 0))
	if _, err := services.Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Service served on the reserved address "+out.ReservedAddress, func() (bool, error) {
		got, err := services.Get(ctx, "web", metav1.GetOptions{})
		if err != nil || len(got.Status.LoadBalancer.Ingress) == 0 {
			return false, err
		}
		if ip := got.Status.LoadBalancer.Ingress[0].IP; ip != out.ReservedAddress {
			return false, fmt.Errorf("ingress IP %s, want the reserved %s", ip, out.ReservedAddress)
		}
		return true, nil
	})
	frs, err := e.cloud.Compute.ForwardingRules.List(project, "us-central1").
		Filter(fmt.Sprintf("IPAddress = %q", out.ReservedAddress)).Do()
	if err != nil || len(frs.Items) != 1 {
		t.Fatalf("forwarding rules on %s: %+v, %v", out.ReservedAddress, frs, err)
	}
	pool, err := e.cloud.Compute.TargetPools.Get(project, "us-central1", lastSegment(frs.Items[0].Target)).Do()
	if err != nil || len(pool.Instances) != len(out.NodeNames) {
		t.Errorf("the target pool should hold every terraform-made instance %v: %+v, %v", out.NodeNames, pool, err)
	}

	if err := services.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	prefix := ownership.ForCluster(clusterName).Prefix()
	eventually(t, "the Service and the CCM's cloud resources gone", func() (bool, error) {
		_, err := services.Get(ctx, "web", metav1.GetOptions{})
		left := e.resources(t, prefix)
		if !apierrors.IsNotFound(err) || len(left) > 0 {
			return false, fmt.Errorf("service: %v; CCM resources left: %v", err, left)
		}
		return true, nil
	})
	if _, err := e.cloud.Compute.Addresses.Get(project, "us-central1", out.ReservedAddressName).Do(); err != nil {
		t.Errorf("the CCM released terraform's address %s: %v", out.ReservedAddressName, err)
	}
}

// resources lists what fake-gce holds (operations aside) whose name starts
// with prefix ("" for everything), from its admin state.
func (e *env) resources(t *testing.T, prefix string) []string {
	t.Helper()
	resp, err := http.Get("http://" + e.cloud.Host + "/admin/v1/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var state struct {
		Resources map[string]json.RawMessage `json:"resources"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		t.Fatalf("admin state: %v", err)
	}
	var out []string
	for path := range state.Resources {
		if !strings.Contains(path, "/operations/") && strings.HasPrefix(lastSegment(path), prefix) {
			out = append(out, path)
		}
	}
	sort.Strings(out)
	return out
}

func hasTaint(n *v1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

func lastSegment(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// eventually polls cond until it holds or convergeWithin passes.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	if err := cluster.Until(convergeWithin, what, cond); err != nil {
		t.Fatal(err)
	}
}
