package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/deploy/charts"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// The cluster the chart installs: a name, and a node tag, of its own, so
// that its cloud resources in the shared fake-gce meet none of the suite's.
const (
	helmCluster = "helm-e2e"
	helmNodeTag = "helm-node"
)

// The Helm chart as a user installs it: rendered with the Helm Go SDK (as
// `helm template` does) from values that generate the cloud config, applied
// server-side to an API server of its own, and the CCM run with the
// DaemonSet's own arguments under the chart's ServiceAccount. Its RBAC must
// let it take the Lease, initialise the nodes and serve a LoadBalancer
// Service; the CCM must accept every flag and the gce.conf the chart writes.
func TestTheHelmChartRunsACCMThatServesALoadBalancer(t *testing.T) {
	ctx := context.Background()
	cp, objs := startHelmControlPlane(t)
	ccm := startChartCCM(t, cp, objs)

	eventually(t, convergeWithin, "the CCM holds the Lease the chart's Role names", func() (bool, error) {
		l, err := cp.Admin.CoordinationV1().Leases("kube-system").Get(ctx, "cloud-controller-manager", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "", err
	})

	for zone, name := range map[string]string{"us-central1-a": "node-63", "us-central1-c": "node-64"} {
		if _, err := s.cloud.EnsureTaggedInstance(ctx, zone, name, helmNodeTag); err != nil {
			t.Fatal(err)
		}
		k, err := cp.StartKubelet(ctx, name, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { k.Stop(context.Background(), false) })
	}
	for _, name := range []string{"node-63", "node-64"} {
		eventually(t, convergeWithin, name+" initialised", func() (bool, error) {
			n, err := cp.Admin.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			return err == nil && n.Spec.ProviderID != "" && !hasTaint(n, cluster.UninitializedTaint), err
		})
	}

	svc := fixture.Service("helm-web", fixture.LoadBalancer(), fixture.Selector(map[string]string{"app": "helm-web"}), fixture.HTTPPort(0, 0))
	if _, err := cp.Admin.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "the LoadBalancer Service gets an address and a True LoadBalancerReady condition", func() (bool, error) {
		got, err := cp.Admin.CoreV1().Services("default").Get(ctx, "helm-web", metav1.GetOptions{})
		return err == nil && len(got.Status.LoadBalancer.Ingress) > 0 &&
			meta.IsStatusConditionTrue(got.Status.Conditions, lbcondition.Type), err
	})
	if got := helmClusterResources(t); !slices.ContainsFunc(got, func(r string) bool { return strings.HasPrefix(r, "forwardingRule/") }) {
		t.Errorf("cloud resources of cluster %s: %v, want a forwarding rule", helmCluster, got)
	}

	if err := cp.Admin.CoreV1().Services("default").Delete(ctx, "helm-web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "the Service and its load balancer are gone", func() (bool, error) {
		_, err := cp.Admin.CoreV1().Services("default").Get(ctx, "helm-web", metav1.GetOptions{})
		if left := helmClusterResources(t); len(left) > 0 {
			return false, fmt.Errorf("still there: %v", left)
		}
		return apierrors.IsNotFound(err), nil
	})
	if b, err := os.ReadFile(ccm.LogPath()); err != nil || strings.Contains(string(b), " is forbidden: ") {
		t.Errorf("the CCM was refused a call by the chart's RBAC (or its log is unreadable: %v); see %s", err, ccm.LogPath())
	}
}

// startHelmControlPlane starts etcd and kube-apiserver of their own and
// applies the chart to them, rendered for a cluster on fake-gce. Not the
// suite's API server: it holds deploy/overlays/fake-gce's objects, of the
// same names, and the chart applied over them would change the RBAC the
// other tests run with.
func startHelmControlPlane(t *testing.T) (*cluster.ControlPlane, []*unstructured.Unstructured) {
	t.Helper()
	cp := startOwnControlPlane(t, "helm")
	// The gce.conf the chart generates from its values, as on a cloud
	// without a metadata server: every [global] key the CCM needs, and no
	// credentials for fake-gce.
	objs, err := charts.Render(filepath.Join(s.repo, charts.Dir), "cpv", nil, map[string]any{
		"clusterName": helmCluster,
		"cloudConfig": map[string]any{
			"global": map[string]any{
				"project-id": s.cloud.Project, "network-name": cluster.NetworkName, "local-zone": "us-central1-a",
				"regional": true, "node-tags": []any{helmNodeTag}, "api-endpoint": s.cloud.Endpoint,
			},
			"computeAPI": map[string]any{"no-authentication": true, "max-retries": 2},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.Apply(context.Background(), objs); err != nil {
		t.Fatalf("server-side apply of the chart: %v", err)
	}
	return cp, objs
}

// startChartCCM runs the CCM binary as the chart's DaemonSet would: its
// container's arguments, with the cloud config its ConfigMap holds, under a
// token of the ServiceAccount its pods run as. Only what a pod gets from
// the cluster is replaced: the in-cluster kubeconfig by a file, and the
// secure port by a free one (pods of the host network would share :10258
// with the suite's other CCMs).
func startChartCCM(t *testing.T, cp *cluster.ControlPlane, objs []*unstructured.Unstructured) *cluster.Process {
	t.Helper()
	ctx := context.Background()
	ds := chartDaemonSet(t, objs)
	pod := ds.Spec.Template.Spec
	token, err := cp.ServiceAccountToken(ctx, ds.Namespace, pod.ServiceAccountName)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(cp.Dir, "ccm.kubeconfig")
	if err := cp.WriteKubeconfig(kubeconfig, pod.ServiceAccountName, token); err != nil {
		t.Fatal(err)
	}
	conf, err := cluster.CloudConfig(objs, s.cloud.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(cp.Dir, "gce.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := cluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, a := range pod.Containers[0].Args {
		switch {
		case strings.HasPrefix(a, "--cloud-config="):
			a = "--cloud-config=" + confPath
		case strings.HasPrefix(a, "--secure-port="):
			a = fmt.Sprintf("--secure-port=%d", port)
		}
		args = append(args, a)
	}
	args = append(args, "--kubeconfig="+kubeconfig,
		"--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig)

	name := "ccm-helm"
	p, err := cluster.StartProcess(cp.Dir, name, filepath.Join(s.bin, "vpc-cloud-controller-manager"), args, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("the CCM's log: %s", p.LogPath())
		}
	})
	healthz := fmt.Sprintf("https://127.0.0.1:%d/healthz", port)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := p.WaitReady(wctx, func() error { return cluster.Healthy(healthz) }); err != nil {
		t.Fatalf("the CCM with the chart's arguments %v: %v", args, err)
	}
	return p
}

func chartDaemonSet(t *testing.T, objs []*unstructured.Unstructured) *appsv1.DaemonSet {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() != "DaemonSet" {
			continue
		}
		ds := &appsv1.DaemonSet{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, ds); err != nil {
			t.Fatalf("the chart's DaemonSet: %v", err)
		}
		return ds
	}
	t.Fatal("the chart renders no DaemonSet")
	return nil
}

// helmClusterResources lists the chart cluster's load balancer resources
// in fake-gce: forwarding rules, target pools, health checks and firewall
// rules whose names start with its prefix.
func helmClusterResources(t *testing.T) []string {
	t.Helper()
	prefix := ownership.ForCluster(helmCluster).Prefix()
	p, r := s.cloud.Project, cluster.Region
	var names []string
	add := func(kind, name string) {
		if strings.HasPrefix(name, prefix) {
			names = append(names, kind+"/"+name)
		}
	}
	frs, err := s.cloud.Compute.ForwardingRules.List(p, r).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range frs.Items {
		add("forwardingRule", x.Name)
	}
	tps, err := s.cloud.Compute.TargetPools.List(p, r).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range tps.Items {
		add("targetPool", x.Name)
	}
	hcs, err := s.cloud.Compute.HttpHealthChecks.List(p).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range hcs.Items {
		add("httpHealthCheck", x.Name)
	}
	fws, err := s.cloud.Compute.Firewalls.List(p).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range fws.Items {
		add("firewall", x.Name)
	}
	return names
}
