package nlb

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

func TestBackendServiceLoadBalancersShareInstanceGroups(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1", "node-2", "node-3")
	// node-4 in another zone.
	op, err := lc.Compute.Instances.Insert(lc.Project, "us-central1-b", &compute.Instance{Name: "node-4", MachineType: "zones/us-central1-b/machineTypes/e2-medium",
		Disks:             []*compute.AttachedDisk{{Boot: true, AutoDelete: true, InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Network: "global/networks/default"}}}).Do()
	if err == nil {
		op, err = lc.WaitOperation(context.Background(), op)
	}
	if err != nil || op.Error != nil {
		t.Fatal(err)
	}
	lc.p.DefaultBackend = BackendService
	web := newService("web", fixture.Ports("TCP", 80, 443))
	dns := newService("dns-server", fixture.Ports("TCP", 53), fixture.Ports("UDP", 53))
	nodes := nodesFor("us-central1-a", "node-1", "node-2")
	webIP := ensure(t, lc, web, nodes)
	ensure(t, lc, dns, nodes)

	base := lc.p.Owner.LoadBalancerBase(string(web.UID))
	bs, err := lc.Compute.RegionBackendServices.Get(lc.Project, "us-central1", base).Do()
	if err != nil || bs.LoadBalancingScheme != "EXTERNAL" || len(bs.Backends) != 1 || !strings.Contains(bs.HealthChecks[0], "/regions/us-central1/healthChecks/") {
		t.Fatalf("backend service = %+v, %v", bs, err)
	}
	fr, err := lc.Compute.ForwardingRules.Get(lc.Project, "us-central1", base+"-tcp").Do()
	if err != nil || !slices.Equal(fr.Ports, []string{"80", "443"}) || fr.BackendService == "" || fr.IPAddress != webIP {
		t.Errorf("forwarding rule = %+v, %v", fr, err)
	}
	l3, err := lc.Compute.ForwardingRules.Get(lc.Project, "us-central1", lc.p.Owner.LoadBalancerBase(string(dns.UID))+"-l3").Do()
	if err != nil || l3.IPProtocol != "L3_DEFAULT" || !l3.AllPorts {
		t.Errorf("mixed-protocol rule = %+v, %v", l3, err)
	}
	ig, err := lc.Compute.InstanceGroups.Get(lc.Project, "us-central1-a", lc.p.Owner.InstanceGroupName("us-central1-a")).Do()
	if err != nil || ig.Size != 2 {
		t.Errorf("instance group = %+v, %v", ig, err)
	}
	resyncMakesNoWrites(t, lc, web, nodes)

	// A node joins in a new zone and one in the old: per zone one call, for
	// the first Service; the second finds nothing to do.
	nodes = append(nodes, nodesFor("us-central1-a", "node-3")...)
	nodes = append(nodes, nodesFor("us-central1-b", "node-4")...)
	lc.Server.ResetCalls()
	ensure(t, lc, web, nodes)
	if got, want := writesSince(lc), []string{"instanceGroups.addInstances", "instanceGroups.addInstances", "instanceGroups.insert", "regionBackendServices.patch"}; !slices.Equal(got, want) {
		t.Errorf("first Service after the node change: writes %v, want %v", got, want)
	}
	lc.Server.ResetCalls()
	ensure(t, lc, dns, nodes)
	if got, want := writesSince(lc), []string{"regionBackendServices.patch"}; !slices.Equal(got, want) {
		t.Errorf("second Service after the node change: writes %v, want %v (the groups are shared)", got, want)
	}

	// Switching a Service to a target pool keeps its IP.
	web.Annotations[annotations.Backend] = BackendTargetPool
	if got := ensure(t, lc, web, nodes); got != webIP {
		t.Errorf("after the switch to a target pool the IP is %s, want %s", got, webIP)
	}
	if _, err := lc.Compute.RegionBackendServices.Get(lc.Project, "us-central1", base).Do(); err == nil {
		t.Errorf("the backend service survived the switch")
	}
	resyncMakesNoWrites(t, lc, web, nodes)
	web.Annotations[annotations.Backend] = BackendService
	if got := ensure(t, lc, web, nodes); got != webIP {
		t.Errorf("after the switch back the IP is %s, want %s", got, webIP)
	}

	if err := lc.lb().Delete(context.Background(), web); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.Compute.InstanceGroups.Get(lc.Project, "us-central1-a", lc.p.Owner.InstanceGroupName("us-central1-a")).Do(); err != nil {
		t.Errorf("a group another Service uses was deleted: %v", err)
	}
	if err := lc.lb().Delete(context.Background(), dns); err != nil {
		t.Fatal(err)
	}
	if left := lc.owned(); len(left) != 0 {
		t.Errorf("left after both deletes: %v", left)
	}
}

func TestTheDefaultBackendAppliesToNewServicesOnly(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1")
	nodes := nodesFor("us-central1-a", "node-1")
	old := newService("old")
	lc.p.DefaultBackend = BackendTargetPool
	ensure(t, lc, old, nodes)
	lc.p.DefaultBackend = BackendService
	resyncMakesNoWrites(t, lc, old, nodes)
	if _, err := lc.Compute.RegionBackendServices.Get(lc.Project, "us-central1", lc.p.Owner.LoadBalancerBase(string(old.UID))).Do(); err == nil {
		t.Errorf("an existing Service moved to the new default backend")
	}
	fresh := newService("fresh-service")
	ensure(t, lc, fresh, nodes)
	if _, err := lc.Compute.RegionBackendServices.Get(lc.Project, "us-central1", lc.p.Owner.LoadBalancerBase(string(fresh.UID))).Do(); err != nil {
		t.Errorf("a new Service did not get the default backend: %v", err)
	}
}
