package e2e

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/e2e/cluster"
)

// With --use-service-account-credentials=true every controller, this
// project's (the service controller with its conditions, nodeip, the
// firewall garbage collector) included, calls the API server as a
// ServiceAccount of its own
// in kube-system, whose token the CCM requests (k8s.io/controller-manager
// pkg/clientbuilder, DynamicControllerClientBuilder). deploy/'s RBAC must
// grant each of them what it does: here every part runs once under its own
// identity, and none may be refused.
func TestWithServiceAccountCredentialsEveryControllerDoesItsWork(t *testing.T) {
	orphan := leaveAnOrphanFirewallRule(t, "credentials")
	ccm := startCCM(t, "ccm-sa-credentials", "--use-service-account-credentials=true")
	startNode(t, "us-central1-a", "node-61")
	startNode(t, "us-central1-b", "node-62")
	eventually(t, convergeWithin, "nodes initialised (node-controller)", func() (bool, error) {
		a, _ := initialised("node-61")()
		b, _ := initialised("node-62")()
		return a && b, nil
	})
	eventually(t, convergeWithin, "the garbage collector deletes the orphan rule "+orphan, func() (bool, error) {
		_, err := s.cloud.Compute.Firewalls.Get(s.cloud.Project, orphan).Do()
		var gerr *googleapi.Error
		return errors.As(err, &gerr) && gerr.Code == http.StatusNotFound, nil
	})

	ip61, ip62 := internalIP(t, "us-central1-a", "node-61"), internalIP(t, "us-central1-b", "node-62")
	both := []string{ip61, ip62}
	slices.Sort(both)
	edge := createService(t, "sa-edge", map[string]string{"cloud-provider-vpc.io/load-balancer-mode": "nodeip"}, 8081)
	eventually(t, convergeWithin, "the nodeip Service publishes both nodes (nodeip-service-controller)", func() (bool, error) {
		return slices.Equal(ingressIPs("sa-edge"), both), nil
	})
	rule := ownership.NodeIPFirewallName(ownership.ForCluster("e2e").LoadBalancerBase(string(edge.UID)))
	eventually(t, convergeWithin, "its firewall rule admits both nodes", func() (bool, error) {
		fw, err := s.cloud.Compute.Firewalls.Get(s.cloud.Project, rule).Do()
		return err == nil && len(fw.DestinationRanges) == 2, nil
	})

	web := createService(t, "sa-web", nil, 80)
	eventually(t, convergeWithin, "the external Service gets its address and a True condition (service-controller)", func() (bool, error) {
		svc, err := getService("sa-web")
		return err == nil && len(svc.Status.LoadBalancer.Ingress) > 0 &&
			meta.IsStatusConditionTrue(svc.Status.Conditions, lbcondition.Type), err
	})
	deleteServiceAndWaitForItsResources(t, "sa-web", strings.TrimSuffix(ownership.NodeIPFirewallName(ownership.ForCluster("e2e").LoadBalancerBase(string(web.UID))), "-nip"))
	noForbiddenCalls(t, ccm)
}

// leaveAnOrphanFirewallRule makes a firewall rule of the e2e cluster for a
// Service that does not exist, as a Service deleted while no CCM ran leaves
// behind, and returns its name. The rule names its Service by key too, as
// the CCM's rules do, so the collector asks the API server for it (with
// its own identity) before deleting the rule.
func leaveAnOrphanFirewallRule(t *testing.T, suffix string) string {
	t.Helper()
	owner := ownership.ForCluster("e2e")
	name := owner.ResourceName("fw", "orphan-"+suffix)
	op, err := s.cloud.Compute.Firewalls.Insert(s.cloud.Project, &compute.Firewall{
		Name: name, Network: "global/networks/" + cluster.NetworkName, Direction: "INGRESS",
		Allowed:      []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"9998"}}},
		SourceRanges: []string{"0.0.0.0/0"}, TargetTags: []string{cluster.NodeTag},
		Description: owner.Description(map[string]string{ownership.ServiceUIDKey: "00000000-0000-4000-8000-00000000cafe",
			ownership.ServiceKey: "default/orphan-" + suffix}),
	}).Do()
	if err := s.cloud.Wait(context.Background(), op, err); err != nil {
		t.Fatalf("insert firewall %s: %v", name, err)
	}
	return name
}
