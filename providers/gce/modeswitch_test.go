package gce

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/lbcondition"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/nodeip"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

// externalBuilt ensures svc's external load balancer on node-1 and returns
// the Service's base name.
func externalBuilt(t *testing.T, tc *testCloud, svc *v1.Service) string {
	t.Helper()
	tc.addInstance(t, "us-central1-a", "node-1")
	if _, err := tc.provider.EnsureLoadBalancer(context.Background(), cluster, svc, []*v1.Node{node("node-1", "gce://fake-project/us-central1-a/node-1")}); err != nil {
		t.Fatal(err)
	}
	return ownership.ForCluster(cluster).LoadBalancerBase(string(svc.UID))
}

// namedAfter lists the resources whose name starts with base.
func namedAfter(t *testing.T, tc *testCloud, base string) []string {
	t.Helper()
	filter := "name eq " + base + ".*"
	var out []string
	fws, err := tc.Compute.Firewalls.List(tc.Project).Filter(filter).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, fw := range fws.Items {
		out = append(out, "firewall "+strings.TrimPrefix(fw.Name, base))
	}
	frs, err := tc.Compute.ForwardingRules.List(tc.Project, "us-central1").Filter(filter).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range frs.Items {
		out = append(out, "forwarding rule "+strings.TrimPrefix(fr.Name, base))
	}
	tps, err := tc.Compute.TargetPools.List(tc.Project, "us-central1").Filter(filter).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range tps.Items {
		out = append(out, "target pool "+strings.TrimPrefix(tp.Name, base))
	}
	as, err := tc.Compute.Addresses.List(tc.Project, "us-central1").Filter(filter).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as.Items {
		out = append(out, "address "+strings.TrimPrefix(a.Name, base))
	}
	return out
}

// insertRule inserts fw and waits for it.
func insertRule(t *testing.T, tc *testCloud, fw *compute.Firewall) {
	t.Helper()
	fw.Network = tc.provider.networkURL
	must(t, tc.Cloud)(tc.Compute.Firewalls.Insert(tc.Project, fw).Do())
}

// A nodeip Service whose external load balancer was left half-deleted (its
// forwarding rule gone, so it has no address to show) and whose status the
// nodeip controller already wrote: the release goes by what the cloud
// holds, and leaves the nodeip rule alone.
func TestANodeIPServiceReleasesWhatTheExternalModeLeftWhateverItsStatusSays(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.NodeTags = []string{"k8s-node"} })
	svc := lbService(nil)
	base := externalBuilt(t, tc, svc)
	frs, err := tc.Compute.ForwardingRules.List(tc.Project, "us-central1").Do()
	if err != nil || len(frs.Items) == 0 {
		t.Fatalf("forwarding rules: %v, %v", frs, err)
	}
	for _, fr := range frs.Items {
		must(t, tc.Cloud)(tc.Compute.ForwardingRules.Delete(tc.Project, "us-central1", fr.Name).Do())
	}
	owner := ownership.ForCluster(cluster)
	nip := ownership.NodeIPFirewallName(owner.LoadBalancerBase(string(svc.UID)))
	insertRule(t, tc, &compute.Firewall{Name: nip, TargetTags: []string{"k8s-node"}, SourceRanges: []string{"0.0.0.0/0"},
		DestinationRanges: []string{"10.0.0.5/32"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}},
		Description: owner.Description(map[string]string{ownership.ServiceUIDKey: string(svc.UID), ownership.ModeKey: ownership.ModeNodeIP})})

	svc.Annotations = map[string]string{annotations.Mode: annotations.ModeNodeIP}
	svc.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "10.0.0.5"}}
	svc.Status.Conditions = []metav1.Condition{{Type: lbcondition.Type, Status: metav1.ConditionTrue, Reason: nodeip.ReasonPublished}}
	nodes := []*v1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Spec: v1.NodeSpec{ProviderID: "gce://fake-project/us-central1-a/node-1"},
		Status: v1.NodeStatus{Addresses: []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "10.0.0.5"}}}}}
	if _, err := tc.provider.EnsureLoadBalancer(context.Background(), cluster, svc, nodes); !errors.Is(err, cloudprovider.ImplementedElsewhere) {
		t.Fatalf("EnsureLoadBalancer = %v, want ImplementedElsewhere", err)
	}
	if got := namedAfter(t, tc, base); len(got) != 1 || got[0] != "firewall -nip" {
		t.Errorf("left after the release: %v, want the nodeip rule only", got)
	}
	if _, err := tc.Compute.HttpHealthChecks.Get(tc.Project, owner.SharedHealthCheckName()).Do(); err == nil {
		t.Errorf("the cluster's health check, which no load balancer uses now, is left")
	}
}

// After the service controller's ensure of a nodeip Service succeeded, a
// node change costs no call: UpdateLoadBalancer has nothing to release.
func TestANodeChangeOfANodeIPServiceMakesNoCall(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, nil)
	svc := lbService(map[string]string{annotations.Mode: annotations.ModeNodeIP})
	tc.Server.ResetCalls()
	err := tc.provider.UpdateLoadBalancer(context.Background(), cluster, svc, []*v1.Node{node("node-1", "gce://fake-project/us-central1-a/node-1")})
	if !errors.Is(err, cloudprovider.ImplementedElsewhere) {
		t.Fatalf("UpdateLoadBalancer = %v, want ImplementedElsewhere", err)
	}
	if calls := tc.Server.Calls(); len(calls) > 0 {
		t.Errorf("%d calls, want none: %+v", len(calls), calls)
	}
}

// Rules made before descriptions recorded the mode: the external ensure
// neither patches nor deletes any of them (the nodeip rule is the nodeip
// mode's by its name), and the Service's deletion removes them all.
func TestRulesFromBeforeTheModeKeyAreNeitherPatchedNorOrphaned(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.NodeTags = []string{"k8s-node"} })
	svc := lbService(nil)
	base := externalBuilt(t, tc, svc)
	owner := ownership.ForCluster(cluster)
	older := owner.Description(map[string]string{ownership.ServiceKey: "default/web", ownership.ServiceUIDKey: string(svc.UID)})
	fws, err := tc.Compute.Firewalls.List(tc.Project).Filter("name eq " + base + ".*").Do()
	if err != nil || len(fws.Items) == 0 {
		t.Fatalf("the external rules: %v, %v", fws, err)
	}
	for _, fw := range fws.Items {
		must(t, tc.Cloud)(tc.Compute.Firewalls.Patch(tc.Project, fw.Name, &compute.Firewall{Description: older}).Do())
	}
	insertRule(t, tc, &compute.Firewall{Name: ownership.NodeIPFirewallNameIPv6(owner.LoadBalancerBase(string(svc.UID))), TargetTags: []string{"k8s-node"},
		SourceRanges: []string{"::/0"}, DestinationRanges: []string{"fd00::5/128"},
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}, Description: older})

	tc.Server.ResetCalls()
	if _, err := tc.provider.EnsureLoadBalancer(context.Background(), cluster, svc, []*v1.Node{node("node-1", "gce://fake-project/us-central1-a/node-1")}); err != nil {
		t.Fatal(err)
	}
	for _, c := range tc.Server.Calls() {
		if strings.HasPrefix(c.API, "compute.firewalls.") && c.Method != "GET" {
			t.Errorf("the ensure after the upgrade called %s %s", c.API, c.Path)
		}
	}
	if err := tc.provider.EnsureLoadBalancerDeleted(context.Background(), cluster, svc); err != nil {
		t.Fatal(err)
	}
	if got := namedAfter(t, tc, base); len(got) > 0 {
		t.Errorf("left after the Service's deletion: %v", got)
	}
}
