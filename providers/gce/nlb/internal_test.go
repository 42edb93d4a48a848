package nlb

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func TestInternalLoadBalancer(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1", "node-2")
	lc.p.SubnetworkURL = "https://www.googleapis.com/compute/v1/projects/fake-project/regions/us-central1/subnetworks/default"
	svc := newService("api", fixture.Annotation(annotations.GKELoadBalancerType, "Internal"),
		fixture.Annotation(annotations.InternalGlobalAccess, "true"))
	nodes := nodesFor("us-central1-a", "node-1", "node-2")
	ip := ensure(t, lc, svc, nodes)
	if !netip.MustParsePrefix("10.128.0.0/20").Contains(netip.MustParseAddr(ip)) {
		t.Errorf("internal IP %s is not from the subnetwork", ip)
	}
	base := lc.p.Owner.LoadBalancerBase(string(svc.UID))
	fr, err := lc.Compute.ForwardingRules.Get(lc.Project, "us-central1", base+"-tcp").Do()
	if err != nil || fr.LoadBalancingScheme != "INTERNAL" || !fr.AllowGlobalAccess || fr.Subnetwork != lc.p.SubnetworkURL || fr.BackendService == "" {
		t.Fatalf("forwarding rule = %+v, %v", fr, err)
	}
	bs, err := lc.Compute.RegionBackendServices.Get(lc.Project, "us-central1", base).Do()
	if err != nil || bs.LoadBalancingScheme != "INTERNAL" {
		t.Errorf("backend service = %+v, %v", bs, err)
	}
	fw, err := lc.Compute.Firewalls.Get(lc.Project, base+"-fw").Do()
	if err != nil || !slices.Contains(fw.SourceRanges, "10.128.0.0/20") || slices.Contains(fw.SourceRanges, "0.0.0.0/0") {
		t.Errorf("firewall sources = %v, %v; want the VPC's ranges", fw.SourceRanges, err)
	}
	resyncMakesNoWrites(t, lc, svc, nodes)

	// Turned external: a new, external address.
	delete(svc.Annotations, annotations.GKELoadBalancerType)
	ext := ensure(t, lc, svc, nodes)
	if ext == ip || netip.MustParsePrefix("10.0.0.0/8").Contains(netip.MustParseAddr(ext)) {
		t.Errorf("after the switch to external the IP is %s (was %s)", ext, ip)
	}
	resyncMakesNoWrites(t, lc, svc, nodes)

	// External on a backend service, then internal again: the backend
	// service changes scheme by being replaced.
	svc.Annotations[annotations.Backend] = BackendService
	ensure(t, lc, svc, nodes)
	svc.Annotations[annotations.LoadBalancerType] = "internal"
	if got := ensure(t, lc, svc, nodes); !netip.MustParsePrefix("10.128.0.0/20").Contains(netip.MustParseAddr(got)) {
		t.Errorf("back to internal: IP %s", got)
	}
	resyncMakesNoWrites(t, lc, svc, nodes)
	if err := lc.lb().Delete(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	if left := lc.owned(); len(left) != 0 {
		t.Errorf("left after delete: %v", left)
	}
}
