package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// With the real kube-controller-manager, kube-scheduler and kubelets, a
// nodeip Service with externalTrafficPolicy Local publishes the nodes whose
// pods the endpointslice controller reports ready, a stopped kubelet's node
// leaves every nodeip Service once the node lifecycle controller marks it
// NotReady, and a deleted instance's node leaves the external load
// balancer's instance group.
func TestNodeIPFollowsRealPodsAndNodesAndExternalLoadBalancersFollowTheNodeSet(t *testing.T) {
	realComponents(t, cluster.ControllerManagerOptions{NodeMonitorGracePeriod: nodeMonitorGracePeriod})
	ccm := startCCM(t, "ccm-real-nodes")
	a := startHollowNode(t, "us-central1-a", "node-57")
	b := startHollowNode(t, "us-central1-b", "node-58")
	eventually(t, convergeWithin, "both hollow nodes initialised", func() (bool, error) {
		x, _ := initialised(a.Name)()
		y, _ := initialised(b.Name)()
		return x && y, nil
	})

	// Local: only the node running the pods is published.
	createDeployment(t, "local-edge", 2, a.Name)
	createLocalNodeIPService(t, "local-edge", 8081)
	eventually(t, convergeWithin, "local-edge publishes only the node with its ready pods", func() (bool, error) {
		return slices.Equal(ingressIPs("local-edge"), []string{a.NodeIP}), nil
	})

	// Scaled to zero, no node has a ready endpoint: nothing is published.
	scaleDeployment(t, "local-edge", 0)
	eventually(t, convergeWithin, "local-edge publishes nothing without pods", func() (bool, error) {
		svc, err := getService("local-edge")
		if err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(svc.Status.Conditions, lbcondition.Type)
		return len(svc.Status.LoadBalancer.Ingress) == 0 && c != nil && c.Status == metav1.ConditionFalse, nil
	})
	scaleDeployment(t, "local-edge", 2)
	eventually(t, convergeWithin, "local-edge publishes the node again once its pods are ready", func() (bool, error) {
		return slices.Equal(ingressIPs("local-edge"), []string{a.NodeIP}), nil
	})

	// Cluster policy: every Ready node; an external Service's shared
	// instance groups hold both.
	createService(t, "cluster-edge", map[string]string{"cloud-provider-vpc.io/load-balancer-mode": "nodeip"}, 8082)
	both := []string{a.NodeIP, b.NodeIP}
	slices.Sort(both)
	eventually(t, convergeWithin, "cluster-edge publishes both nodes", func() (bool, error) {
		return slices.Equal(ingressIPs("cluster-edge"), both), nil
	})
	createService(t, "real-web", nil, 80)
	eventually(t, convergeWithin, "node-58 in its zone's shared instance group", inInstanceGroup("us-central1-b", b.Name, true))

	// node-58's kubelet stops: the node lifecycle controller marks the node
	// NotReady once its Lease is nodeMonitorGracePeriod old, and nodeip
	// withdraws it. The external load balancer keeps it (readiness is its
	// health check's business, servicecontroller/nodes.go).
	b.Stop()
	eventually(t, convergeWithin, "node-58 NotReady", nodeReadyIs(b.Name, v1.ConditionUnknown))
	eventually(t, convergeWithin, "cluster-edge withdraws node-58", func() (bool, error) {
		return slices.Equal(ingressIPs("cluster-edge"), []string{a.NodeIP}), nil
	})
	if ok, err := inInstanceGroup("us-central1-b", b.Name, true)(); !ok {
		t.Errorf("node-58 left its instance group when it went NotReady (%v); only a deleted node leaves", err)
	}

	// The instance deleted, the CCM deletes the Node and the node leaves the
	// external load balancer's instance group.
	op, err := s.cloud.Compute.Instances.Delete(s.cloud.Project, "us-central1-b", b.Name).Do()
	if err := s.cloud.Wait(context.Background(), op, err); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeWithin, "the Node of the deleted instance deleted", func() (bool, error) {
		_, err := getNode(b.Name)
		return apierrors.IsNotFound(err), nil
	})
	eventually(t, convergeWithin, "node-58 out of the shared instance group", inInstanceGroup("us-central1-b", b.Name, false))
	if got := ingressIPs("local-edge"); !slices.Equal(got, []string{a.NodeIP}) {
		t.Errorf("local-edge publishes %v, want only %s", got, a.NodeIP)
	}
	noForbiddenCalls(t, ccm)
}

// createLocalNodeIPService is a nodeip Service with externalTrafficPolicy
// Local for the pods labelled app=name, deleted when the test ends.
func createLocalNodeIPService(t *testing.T, name string, port int32) {
	t.Helper()
	svc := fixture.Service(name, fixture.LoadBalancer(), fixture.Annotation("cloud-provider-vpc.io/load-balancer-mode", "nodeip"),
		fixture.Selector(map[string]string{"app": name}), fixture.TrafficPolicy(v1.ServiceExternalTrafficPolicyLocal),
		fixture.NamedPort("http", v1.ProtocolTCP, port))
	if _, err := s.cp.Admin.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cp.Admin.CoreV1().Services("default").Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// nodeReadyIs holds once the node's Ready condition has the status.
func nodeReadyIs(name string, status v1.ConditionStatus) func() (bool, error) {
	return func() (bool, error) {
		n, err := getNode(name)
		if err != nil {
			return false, err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == v1.NodeReady {
				return c.Status == status, nil
			}
		}
		return false, nil
	}
}

// inInstanceGroup holds once the instance's membership of the cluster's
// shared instance group of the zone is want.
func inInstanceGroup(zone, instance string, want bool) func() (bool, error) {
	return func() (bool, error) {
		group := ownership.ForCluster("e2e").InstanceGroupName(zone)
		members, err := s.cloud.Compute.InstanceGroups.ListInstances(s.cloud.Project, zone, group, &compute.InstanceGroupsListInstancesRequest{}).Do()
		if err != nil {
			if isNotFound(err) {
				return !want, nil
			}
			return false, err
		}
		for _, m := range members.Items {
			if strings.HasSuffix(m.Instance, "/"+instance) {
				return want, nil
			}
		}
		return !want, nil
	}
}
