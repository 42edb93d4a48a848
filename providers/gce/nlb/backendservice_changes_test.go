package nlb

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// insertInstance adds an instance of the network in a zone.
func insertInstance(t *testing.T, lc *lbCloud, zone, name string) {
	t.Helper()
	op, err := lc.Compute.Instances.Insert(lc.Project, zone, &compute.Instance{Name: name, MachineType: "zones/" + zone + "/machineTypes/e2-medium",
		Disks:             []*compute.AttachedDisk{{Boot: true, AutoDelete: true, InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Network: "global/networks/default"}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lc.Compute.ZoneOperations.Wait(lc.Project, zone, op.Name).Do(); err != nil {
		t.Fatal(err)
	}
}

// dualStackSubnetwork makes the cluster's subnetwork a dual-stack one, "ds",
// with an external IPv6 range.
func dualStackSubnetwork(t *testing.T, lc *lbCloud) {
	t.Helper()
	fixture.InsertSubnetwork(t, lc.Cloud, lc.Project, "us-central1", &compute.Subnetwork{Name: "ds", Network: "global/networks/default",
		IpCidrRange: "10.200.0.0/24", StackType: "IPV4_IPV6", Ipv6AccessType: "EXTERNAL"})
	lc.p.SubnetworkURL = "https://www.googleapis.com/compute/v1/projects/fake-project/regions/us-central1/subnetworks/ds"
}

// backendZones lists the zones of a backend service's groups, sorted.
func backendZones(t *testing.T, lc *lbCloud, name string) []string {
	t.Helper()
	bs, err := lc.Compute.RegionBackendServices.Get(lc.Project, "us-central1", name).Do()
	if err != nil {
		t.Fatal(err)
	}
	var zones []string
	for _, b := range bs.Backends {
		parts := strings.Split(b.Group, "/")
		zones = append(zones, parts[len(parts)-3])
	}
	slices.Sort(zones)
	return zones
}

// groupSize is the number of members of the cluster's group in a zone.
func groupSize(t *testing.T, lc *lbCloud, zone string) int {
	t.Helper()
	members, err := lc.Compute.InstanceGroups.ListInstances(lc.Project, zone, lc.p.Owner.InstanceGroupName(zone), &compute.InstanceGroupsListInstancesRequest{}).Do()
	if err != nil {
		t.Fatal(err)
	}
	return len(members.Items)
}

func TestABackendServiceFollowsTheZonesThatHaveNodesDownToNone(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1", "node-2")
	insertInstance(t, lc, "us-central1-b", "node-4")
	lc.p.DefaultBackend = BackendService
	svc := newService("web")
	base := lc.p.Owner.LoadBalancerBase(string(svc.UID))
	all := append(nodesFor("us-central1-a", "node-1", "node-2"), nodesFor("us-central1-b", "node-4")...)
	ensure(t, lc, svc, all)

	for _, step := range []struct {
		name      string
		nodes     []*v1.Node
		zones     []string
		sizeA     int
		sizeB     int
		wantWrite []string
	}{
		{name: "the nodes of one zone are excluded", nodes: nodesFor("us-central1-a", "node-1", "node-2"), zones: []string{"us-central1-a"}, sizeA: 2, sizeB: 0,
			wantWrite: []string{"instanceGroups.removeInstances", "regionBackendServices.patch"}},
		{name: "every node is excluded", nodes: nil, zones: nil, sizeA: 0, sizeB: 0,
			wantWrite: []string{"instanceGroups.removeInstances", "regionBackendServices.patch"}},
		{name: "every node is included again", nodes: all, zones: []string{"us-central1-a", "us-central1-b"}, sizeA: 2, sizeB: 1,
			wantWrite: []string{"instanceGroups.addInstances", "instanceGroups.addInstances", "regionBackendServices.patch"}},
	} {
		t.Run(step.name, func(t *testing.T) {
			lc.Server.ResetCalls()
			if _, err := lc.lb().Ensure(t.Context(), svc, step.nodes); err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			if got := writesSince(lc); !slices.Equal(got, step.wantWrite) {
				t.Errorf("writes %v, want %v", got, step.wantWrite)
			}
			if got := backendZones(t, lc, base); !slices.Equal(got, step.zones) {
				t.Errorf("the backend service's zones are %v, want %v", got, step.zones)
			}
			if a, b := groupSize(t, lc, "us-central1-a"), groupSize(t, lc, "us-central1-b"); a != step.sizeA || b != step.sizeB {
				t.Errorf("the groups hold %d and %d instances, want %d and %d", a, b, step.sizeA, step.sizeB)
			}
			lc.Server.ResetCalls()
			if _, err := lc.lb().Ensure(t.Context(), svc, step.nodes); err != nil {
				t.Fatalf("resync: %v", err)
			}
			if got := writesSince(lc); len(got) != 0 {
				t.Errorf("a no-change resync wrote %v, want nothing", got)
			}
		})
	}
}

func TestAProtocolChangeRecreatesTheRulesOnTheSameAddresses(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1")
	dualStackSubnetwork(t, lc)
	lc.p.DefaultBackend = BackendService
	nodes := nodesFor("us-central1-a", "node-1")
	for _, tt := range []struct {
		service  string // names of distinct lengths: distinct UIDs
		families []v1.IPFamily
	}{
		{"dns", []v1.IPFamily{v1.IPv4Protocol}},
		{"dns-dual-stack", []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}},
	} {
		t.Run(tt.service, func(t *testing.T) {
			svc := newService(tt.service)
			svc.Spec.IPFamilies = tt.families
			base := lc.p.Owner.LoadBalancerBase(string(svc.UID))
			st, err := lc.lb().Ensure(t.Context(), svc, nodes)
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range []struct {
				name     string
				ports    []v1.ServicePort
				protocol string
			}{
				{"UDP added to TCP", []v1.ServicePort{{Name: "tcp", Protocol: v1.ProtocolTCP, Port: 53}, {Name: "udp", Protocol: v1.ProtocolUDP, Port: 53}}, "UNSPECIFIED"},
				{"TCP removed", []v1.ServicePort{{Name: "udp", Protocol: v1.ProtocolUDP, Port: 53}}, "UDP"},
				{"UDP swapped for TCP", []v1.ServicePort{{Name: "tcp", Protocol: v1.ProtocolTCP, Port: 53}}, "TCP"},
				{"UDP added again", []v1.ServicePort{{Name: "tcp", Protocol: v1.ProtocolTCP, Port: 53}, {Name: "udp", Protocol: v1.ProtocolUDP, Port: 53}}, "UNSPECIFIED"},
				{"TCP only again", []v1.ServicePort{{Name: "tcp", Protocol: v1.ProtocolTCP, Port: 53}}, "TCP"},
			} {
				svc.Spec.Ports = step.ports
				got, err := lc.lb().Ensure(t.Context(), svc, nodes)
				if err != nil {
					t.Fatalf("%s: Ensure: %v", step.name, err)
				}
				if diff := cmp.Diff(st.Ingress, got.Ingress); diff != "" {
					t.Errorf("%s: the addresses changed (-before +after):\n%s", step.name, diff)
				}
				bs, err := lc.Compute.RegionBackendServices.Get(lc.Project, "us-central1", base).Do()
				if err != nil || bs.Protocol != step.protocol {
					t.Errorf("%s: backend service %+v, %v; want protocol %s", step.name, bs, err, step.protocol)
				}
				resyncMakesNoWrites(t, lc, svc, nodes)
			}
		})
	}
}

func TestRuleAddressesCompareAsPrefixes(t *testing.T) {
	for _, tt := range []struct {
		name       string
		have, want string
		same       bool
	}{
		{"an IPv4 rule's address is itself", "203.0.113.7", "203.0.113.7", true},
		{"another IPv4 address differs", "203.0.113.7", "203.0.113.8", false},
		{"an IPv6 rule's /96 written in full is the same /96", "2600:1900:0:0:0:1:0:0/96", "2600:1900::1:0:0/96", true},
		{"a bare IPv6 address is not its /96", "2600:1900::1:0:0", "2600:1900::1:0:0/96", false},
		{"another /96 differs", "2600:1900::2:0:0/96", "2600:1900::1:0:0/96", false},
		{"an unreadable address differs from everything", "", "203.0.113.7", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameAddress(tt.have, tt.want); got != tt.same {
				t.Errorf("sameAddress(%q, %q) = %v, want %v", tt.have, tt.want, got, tt.same)
			}
		})
	}
}

func TestStatusOfAnIPv6OnlyServiceIsItsAddressWithoutThePrefix(t *testing.T) {
	lc := newLBCloud(t, fakegce.Config{}, "node-1")
	dualStackSubnetwork(t, lc)
	lc.p.DefaultBackend = BackendService
	svc := newService("web")
	svc.Spec.IPFamilies = []v1.IPFamily{v1.IPv6Protocol}
	nodes := nodesFor("us-central1-a", "node-1")
	ip := ensure(t, lc, svc, nodes)
	resyncMakesNoWrites(t, lc, svc, nodes)
	st, exists, err := lc.lb().Status(t.Context(), svc)
	if err != nil || !exists || len(st.Ingress) != 1 || st.Ingress[0].IP != ip {
		t.Errorf("Status = %+v, %v, %v; want %s", st, exists, err, ip)
	}
}
