package gce

import (
	"context"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

// tenantService is a LoadBalancer Service of a namespace.
func tenantService(namespace, name, uid string, annots map[string]string) *v1.Service {
	return namedLBService(namespace, name, uid, annots)
}

// A Service of one namespace asks for the address another namespace's
// Service has, by IP and by name: it is refused with a condition and an
// event, and the owner's load balancer keeps its address and goes cleanly.
func TestAServiceCannotTakeTheAddressOfAnotherNamespacesService(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, func(c *cloudconfig.Config) { c.NodeTags = []string{"k8s-node"} })
	tc.addInstance(t, "us-central1-a", "node-1")
	nodes := []*v1.Node{node("node-1", "gce://fake-project/us-central1-a/node-1")}
	ctx := context.Background()

	owner := tenantService("team-b", "web", "0b0b0b0b-1111-4222-8333-444455556666", nil)
	st, err := tc.provider.EnsureLoadBalancer(ctx, cluster, owner, nodes)
	if err != nil {
		t.Fatalf("the owner's load balancer: %v", err)
	}
	ip := st.Ingress[0].IP
	ownerAddress := tc.provider.GetLoadBalancerName(ctx, cluster, owner)

	byIP := tenantService("team-a", "by-ip", "0a0a0a0a-1111-4222-8333-444455556666", nil)
	byIP.Spec.LoadBalancerIP = ip
	byName := tenantService("team-a", "by-name", "0a0a0a0a-2222-4222-8333-444455556666",
		map[string]string{annotations.StaticAddress: ownerAddress})
	for _, thief := range []*v1.Service{byIP, byName} {
		t.Run(thief.Name, func(t *testing.T) {
			p := ensureFails(t, tc, thief, nodes)
			if p.reason != "AddressOwnedByAnotherService" || !strings.Contains(p.message, ip) {
				t.Errorf("problem = %+v, want AddressOwnedByAnotherService naming %s", p, ip)
			}
			if err := tc.provider.EnsureLoadBalancerDeleted(ctx, cluster, thief); err != nil {
				t.Errorf("deleting the refused Service: %v", err)
			}
		})
	}

	// The owner's load balancer is as it was: its rules alone use the
	// address, and a resync changes nothing.
	tc.ResetCalls()
	if st, err := tc.provider.EnsureLoadBalancer(ctx, cluster, owner, nodes); err != nil || st.Ingress[0].IP != ip {
		t.Fatalf("the owner's resync: %+v, %v; want %s", st, err, ip)
	}
	for _, c := range tc.Server.Calls() {
		if c.Method != "GET" && !strings.Contains(c.API, "Operations.") {
			t.Errorf("the owner's resync made a write: %s", c.API)
		}
	}
	frs, err := tc.Compute.ForwardingRules.List(tc.Project, "us-central1").Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range frs.Items {
		if fr.IPAddress == ip && !strings.HasPrefix(fr.Name, ownerAddress) {
			t.Errorf("forwarding rule %s uses the owner's address %s", fr.Name, ip)
		}
	}
	if err := tc.provider.EnsureLoadBalancerDeleted(ctx, cluster, owner); err != nil {
		t.Fatalf("deleting the owner: %v", err)
	}
	for k := range tc.Server.State() {
		if strings.Contains(k, "/operations/") || !strings.Contains(k, "cpv-") {
			continue
		}
		t.Errorf("left after the owner's delete: %s", k)
	}
}
