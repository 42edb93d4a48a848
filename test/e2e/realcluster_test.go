package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

// providedNodeIPAnnotation is what a --cloud-provider=external kubelet
// started with --node-ip writes (k8s.io/cloud-provider/api
// AnnotationAlphaProvidedIPAddr); the cloud node controller only accepts a
// cloud address list that holds it.
const providedNodeIPAnnotation = "alpha.kubernetes.io/provided-node-ip"

// A hollow kubelet of these tests renews its Lease every second (a quarter
// of hollowLeaseDuration) and kube-controller-manager marks a node NotReady
// after nodeMonitorGracePeriod without one: a dozen missed renewals, so a
// loaded machine does not flap the nodes, yet a stopped kubelet is seen
// within seconds rather than the default 50.
const (
	hollowLeaseDuration    = 4 * time.Second
	nodeMonitorGracePeriod = 12 * time.Second
)

// realComponents starts kube-controller-manager and kube-scheduler for one
// test, stopped when it ends.
func realComponents(t *testing.T, o cluster.ControllerManagerOptions) {
	t.Helper()
	if err := cluster.RealComponentsBuilt(s.kubeBin); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o.BinDir = s.kubeBin
	kcm, err := s.cp.StartControllerManager(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kcm.Stop)
	sched, err := s.cp.StartScheduler(ctx, s.kubeBin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sched.Stop)
}

// startHollowNode creates the node's instance (as terraform would) and runs
// a hollow kubelet for it with the instance's internal IP as --node-ip.
func startHollowNode(t *testing.T, zone, name string) *cluster.HollowNode {
	t.Helper()
	ctx := context.Background()
	inst, err := s.cloud.EnsureInstance(ctx, zone, name)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.cp.StartHollowNode(ctx, cluster.HollowNodeOptions{BinDir: s.kubeBin, Name: name,
		NodeIP: inst.NetworkInterfaces[0].NetworkIP, StatusUpdateFrequency: 2 * time.Second, LeaseDuration: hollowLeaseDuration})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Stop()
		if t.Failed() {
			t.Logf("hollow node %s logged to %s", name, h.LogPath())
		}
		s.cp.Admin.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{})
		op, err := s.cloud.Compute.Instances.Delete(s.cloud.Project, zone, name).Do()
		s.cloud.Wait(context.Background(), op, err)
	})
	return h
}

func TestAHollowKubeletRegistersItsNodeTheCCMInitialisesItAndItRunsPods(t *testing.T) {
	ctx := context.Background()
	const clusterCIDR = "10.64.0.0/14"
	realComponents(t, cluster.ControllerManagerOptions{ClusterCIDR: clusterCIDR, NodeMonitorGracePeriod: nodeMonitorGracePeriod})
	h := startHollowNode(t, "us-central1-a", "node-56")

	// As the kubelet registered it, before any cloud controller ran.
	n, err := getNode(h.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !hasTaint(n, cluster.UninitializedTaint) {
		t.Errorf("node %s registered without the %s taint: %v", h.Name, cluster.UninitializedTaint, n.Spec.Taints)
	}
	if got := n.Annotations[providedNodeIPAnnotation]; got != h.NodeIP {
		t.Errorf("node %s annotation %s = %q, want the instance's IP %q", h.Name, providedNodeIPAnnotation, got, h.NodeIP)
	}
	if n.Spec.ProviderID != "" {
		t.Errorf("node %s registered with providerID %q; an external-cloud kubelet leaves it to the CCM", h.Name, n.Spec.ProviderID)
	}

	// The CCM's route controller routes the pod CIDR node IPAM gave the
	// node (the CCM itself allocates none: it runs no node IPAM).
	startCCM(t, "ccm-hollow", "--configure-cloud-routes=true", "--allocate-node-cidrs=true",
		"--cluster-cidr="+clusterCIDR, "--route-reconciliation-period=2s")
	_, clusterNet, err := net.ParseCIDR(clusterCIDR)
	if err != nil {
		t.Fatal(err)
	}
	var podCIDR string
	eventually(t, convergeWithin, "node initialised by the CCM, pod CIDR from kube-controller-manager", func() (bool, error) {
		n, err := getNode(h.Name)
		if err != nil {
			return false, err
		}
		podIP, _, err := net.ParseCIDR(n.Spec.PodCIDR)
		podCIDR = n.Spec.PodCIDR
		return strings.HasPrefix(n.Spec.ProviderID, "gce://") && !hasTaint(n, cluster.UninitializedTaint) &&
			n.Labels[v1.LabelTopologyZone] == "us-central1-a" && hasAddress(n, v1.NodeInternalIP, h.NodeIP) &&
			err == nil && clusterNet.Contains(podIP), nil
	})
	eventually(t, convergeWithin, "a route sends the node's pod CIDR to its instance", func() (bool, error) {
		routes, err := s.cloud.Compute.Routes.List(s.cloud.Project).Do()
		if err != nil {
			return false, err
		}
		for _, r := range routes.Items {
			if r.DestRange == podCIDR && strings.HasSuffix(r.NextHopInstance, "/"+h.Name) {
				return true, nil
			}
		}
		return false, nil
	})

	// The scheduler binds the pods to the node and its kubelet runs them
	// (fake containers, addresses from the pod CIDR), so the Deployment's
	// pods become Ready and the endpointslice controller publishes them.
	createDeployment(t, "hollow-web", 2, h.Name)
	createClusterIPService(t, "hollow-web")
	eventually(t, convergeWithin, "the Deployment's pods Ready on the hollow node", deploymentReady("hollow-web", 2))
	_, cidr, err := net.ParseCIDR(podCIDR)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "the endpointslice controller publishes both pods, ready, on the node", func() (bool, error) {
		eps, err := readyEndpoints("hollow-web")
		if err != nil || len(eps) != 2 {
			return false, err
		}
		for _, ep := range eps {
			if ptr.Deref(ep.NodeName, "") != h.Name || !cidr.Contains(net.ParseIP(ep.Addresses[0])) {
				return false, fmt.Errorf("endpoint %v on %s: want an address of %s on %s", ep.Addresses, ptr.Deref(ep.NodeName, ""), podCIDR, h.Name)
			}
		}
		return eps[0].Addresses[0] != eps[1].Addresses[0], fmt.Errorf("both pods have address %s", eps[0].Addresses[0])
	})

	// A kubelet that stops heartbeating is marked by the node lifecycle
	// controller once the grace period has passed.
	if rss, err := h.PeakRSS(); err == nil {
		t.Logf("hollow node %s peak RSS: %d MiB", h.Name, rss>>20)
	}
	h.Stop()
	eventually(t, convergeWithin, "the stopped kubelet's node not Ready", nodeReadyIs(h.Name, v1.ConditionUnknown))

	// The instance deleted, the CCM's node lifecycle controller deletes the
	// Node (it looks only at nodes that are not Ready).
	op, err := s.cloud.Compute.Instances.Delete(s.cloud.Project, "us-central1-a", h.Name).Do()
	if err := s.cloud.Wait(ctx, op, err); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "the Node of the deleted instance deleted", func() (bool, error) {
		_, err := getNode(h.Name)
		return apierrors.IsNotFound(err), nil
	})
}

func hasAddress(n *v1.Node, typ v1.NodeAddressType, addr string) bool {
	for _, a := range n.Status.Addresses {
		if a.Type == typ && a.Address == addr {
			return true
		}
	}
	return false
}
