package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

const (
	shutdownTaint  = "node.cloudprovider.kubernetes.io/shutdown"
	convergeWithin = 60 * time.Second
)

// startNode creates the node's instance (as terraform would) and its kubelet.
func startNode(t *testing.T, zone, name string) *cluster.Kubelet {
	t.Helper()
	ctx := context.Background()
	if _, err := s.cloud.EnsureInstance(ctx, zone, name); err != nil {
		t.Fatal(err)
	}
	k, err := s.cp.StartKubelet(ctx, name, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.Stop(context.Background(), false)
		s.cp.Admin.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return k
}

func getNode(name string) (*v1.Node, error) {
	return s.cp.Admin.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
}

func hasTaint(n *v1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

func initialised(name string) func() (bool, error) {
	return func() (bool, error) {
		n, err := getNode(name)
		if err != nil {
			return false, err
		}
		return n.Spec.ProviderID != "" && !hasTaint(n, cluster.UninitializedTaint), nil
	}
}

// noForbiddenCalls fails the test when the CCM was refused anything by RBAC:
// the manifests of deploy/ must grant all it needs.
func noForbiddenCalls(t *testing.T, ccms ...*cluster.CCM) {
	t.Helper()
	for _, c := range ccms {
		if c.LogContains(" is forbidden: ") {
			t.Errorf("%s was refused a call by RBAC; see %s", c.Name, c.LogPath())
		}
	}
}

func TestNodeInitialisation(t *testing.T) {
	ccm := startCCM(t, "ccm-init")
	startNode(t, "us-central1-b", "node-1")
	eventually(t, convergeWithin, "node-1 initialised", initialised("node-1"))

	n, _ := getNode("node-1")
	inst, err := s.cloud.Compute.Instances.Get(s.cloud.Project, "us-central1-b", "node-1").Do()
	if err != nil {
		t.Fatal(err)
	}
	if want := "gce://fake-project/us-central1-b/node-1"; n.Spec.ProviderID != want {
		t.Errorf("providerID = %q, want %q", n.Spec.ProviderID, want)
	}
	wantLabels := map[string]string{
		"topology.kubernetes.io/zone":      "us-central1-b",
		"topology.kubernetes.io/region":    "us-central1",
		"node.kubernetes.io/instance-type": "e2-standard-4",
	}
	for k, v := range wantLabels {
		if n.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
	// The cloud node controller removes the taint first and writes the
	// addresses in a second update (k8s.io/cloud-provider
	// controllers/node syncNode, then updateNodeAddress): wait for them.
	eventually(t, convergeWithin, "node-1's addresses from its instance", func() (bool, error) {
		n, err := getNode("node-1")
		if err != nil {
			return false, err
		}
		wantAddrs := map[v1.NodeAddressType]string{
			v1.NodeInternalIP: inst.NetworkInterfaces[0].NetworkIP,
			v1.NodeExternalIP: inst.NetworkInterfaces[0].AccessConfigs[0].NatIP,
			v1.NodeHostName:   "node-1",
		}
		for _, a := range n.Status.Addresses {
			if want, ok := wantAddrs[a.Type]; ok && a.Address == want {
				delete(wantAddrs, a.Type)
			}
		}
		if len(wantAddrs) > 0 {
			return false, fmt.Errorf("node addresses %v lack %v", n.Status.Addresses, wantAddrs)
		}
		return true, nil
	})
	noForbiddenCalls(t, ccm)
}

func TestANodeWhoseInstanceIsDeletedIsDeleted(t *testing.T) {
	ccm := startCCM(t, "ccm-delete")
	k := startNode(t, "us-central1-a", "node-2")
	eventually(t, convergeWithin, "node-2 initialised", initialised("node-2"))
	ctx := context.Background()
	if err := k.Stop(ctx, true); err != nil {
		t.Fatal(err)
	}
	op, err := s.cloud.Compute.Instances.Delete(s.cloud.Project, "us-central1-a", "node-2").Do()
	if err := s.cloud.Wait(ctx, op, err); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "node-2 deleted", func() (bool, error) {
		_, err := getNode("node-2")
		return apierrors.IsNotFound(err), err
	})
	noForbiddenCalls(t, ccm)
}

func TestAStoppedInstanceGetsTheShutdownTaint(t *testing.T) {
	ccm := startCCM(t, "ccm-shutdown")
	k := startNode(t, "us-central1-c", "node-3")
	eventually(t, convergeWithin, "node-3 initialised", initialised("node-3"))
	ctx := context.Background()
	if err := k.Stop(ctx, true); err != nil {
		t.Fatal(err)
	}
	op, err := s.cloud.Compute.Instances.Stop(s.cloud.Project, "us-central1-c", "node-3").Do()
	if err := s.cloud.Wait(ctx, op, err); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "node-3 tainted as shut down", func() (bool, error) {
		n, err := getNode("node-3")
		return err == nil && hasTaint(n, shutdownTaint), err
	})
	if _, err := getNode("node-3"); err != nil {
		t.Errorf("a shut-down node was deleted: %v", err)
	}
	// Started again and Ready: the taint goes.
	op, err = s.cloud.Compute.Instances.Start(s.cloud.Project, "us-central1-c", "node-3").Do()
	if err := s.cloud.Wait(ctx, op, err); err != nil {
		t.Fatal(err)
	}
	k.Resume()
	eventually(t, convergeWithin, "node-3's shutdown taint removed", func() (bool, error) {
		n, err := getNode("node-3")
		return err == nil && !hasTaint(n, shutdownTaint), err
	})
	noForbiddenCalls(t, ccm)
}

func TestLeaderElectionFailsOver(t *testing.T) {
	a := startCCM(t, "ccm-leader-a")
	b := startCCM(t, "ccm-leader-b")
	const acquired = `"Successfully acquired lease" lock="kube-system/cloud-controller-manager"`
	var leader, standby *cluster.CCM
	eventually(t, convergeWithin, "one CCM leads", func() (bool, error) {
		switch {
		case a.LogContains(acquired):
			leader, standby = a, b
		case b.LogContains(acquired):
			leader, standby = b, a
		}
		return leader != nil, nil
	})
	startNode(t, "us-central1-a", "node-4")
	eventually(t, convergeWithin, "node-4 initialised by the leader", initialised("node-4"))

	leader.Kill()
	eventually(t, convergeWithin, "the standby takes over", func() (bool, error) { return standby.LogContains(acquired), nil })
	startNode(t, "us-central1-b", "node-5")
	eventually(t, convergeWithin, "node-5 initialised by the new leader", initialised("node-5"))
	noForbiddenCalls(t, a, b)
}

// A CCM killed (kill -9) in the middle of building a load balancer, after
// its first cloud write and before its last, leaves a half-built one; the
// next CCM finishes it. The forwarding rule, the last write of the build
// (nlb.ensureBackendService), is held by fake-gce until the kill, so the
// kill cannot come after the build is done, however fast the CCM is.
func TestACCMKilledMidwayConvergesAfterRestart(t *testing.T) {
	first := startCCM(t, "ccm-crash-1")
	names := []string{"node-6", "node-7", "node-8", "node-9", "node-10"}
	zones := []string{"us-central1-a", "us-central1-b", "us-central1-c"}
	for i, n := range names {
		startNode(t, zones[i%len(zones)], n)
	}
	for _, n := range names {
		eventually(t, convergeWithin, n+" initialised", initialised(n))
	}
	setCloudFaults(t, `[{"method": "compute.forwardingRules.insert", "latency": "5m", "code": 503}]`)
	resetCloudCalls(t)
	svc := createService(t, "crash", nil, 80)
	base := strings.TrimSuffix(ownership.NodeIPFirewallName(ownership.ForCluster("e2e").LoadBalancerBase(string(svc.UID))), "-nip")
	eventually(t, convergeWithin, "the first CCM's first cloud write for the Service", func() (bool, error) {
		return len(cloudWrites(t)) > 0, nil
	})
	first.Kill()
	written := cloudWrites(t)
	setCloudFaults(t, `[]`)
	if got, err := getService("crash"); err != nil || len(got.Status.LoadBalancer.Ingress) != 0 {
		t.Fatalf("the Service had an address (%v, %v) when the CCM was killed: the kill came after the build", got.Status.LoadBalancer.Ingress, err)
	}
	t.Logf("the first CCM was killed after %d cloud writes: %v", len(written), written)

	second := startCCM(t, "ccm-crash-2")
	var ip string
	eventually(t, convergeWithin, "the Service gets an external IP after the restart", func() (bool, error) {
		got, err := getService("crash")
		if err != nil || len(got.Status.LoadBalancer.Ingress) == 0 {
			return false, err
		}
		ip = got.Status.LoadBalancer.Ingress[0].IP
		return true, nil
	})
	fr, err := s.cloud.Compute.ForwardingRules.Get(s.cloud.Project, "us-central1", base+"-tcp").Do()
	if err != nil {
		t.Fatalf("the forwarding rule %s-tcp after the restart: %v", base, err)
	}
	if fr.IPAddress != ip {
		t.Errorf("the forwarding rule serves %s, the Service publishes %s", fr.IPAddress, ip)
	}
	deleteServiceAndWaitForItsResources(t, "crash", base)
	noForbiddenCalls(t, first, second)
}
