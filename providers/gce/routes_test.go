package gce

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/api/compute/v1"
	"k8s.io/apimachinery/pkg/types"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

const cluster = "test-cluster"

func TestRoutesLifecycle(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, nil)
	inst := tc.addInstance(t, "us-central1-a", "node-1")
	ctx := context.Background()
	want := &cloudprovider.Route{TargetNode: "node-1", DestinationCIDR: "10.64.1.0/24"}
	if err := tc.provider.CreateRoute(ctx, cluster, "uid-1", want); err != nil {
		t.Fatal(err)
	}
	// A second create (a resync after a crash) is not an error and makes no second route.
	if err := tc.provider.CreateRoute(ctx, cluster, "uid-1", want); err != nil {
		t.Fatalf("second CreateRoute: %v", err)
	}
	got, err := tc.provider.ListRoutes(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	name := ownership.ForCluster(cluster).ResourceName("r", "uid-1")
	if diff := cmp.Diff([]*cloudprovider.Route{{Name: name, TargetNode: "node-1", DestinationCIDR: "10.64.1.0/24"}}, got); diff != "" {
		t.Errorf("ListRoutes (-want +got):\n%s", diff)
	}
	r, err := tc.Compute.Routes.Get(tc.Project, name).Do()
	if err != nil {
		t.Fatal(err)
	}
	if r.NextHopInstance != inst.SelfLink || r.Network != tc.provider.networkURL || r.Priority != 1000 {
		t.Errorf("route = next hop %s, network %s, priority %d", r.NextHopInstance, r.Network, r.Priority)
	}
	if err := tc.provider.DeleteRoute(ctx, cluster, got[0]); err != nil {
		t.Fatal(err)
	}
	if err := tc.provider.DeleteRoute(ctx, cluster, got[0]); err != nil {
		t.Errorf("deleting a route that is gone: %v", err)
	}
	if got, _ := tc.provider.ListRoutes(ctx, cluster); len(got) != 0 {
		t.Errorf("routes left after delete: %v", got)
	}
}

func TestRoutesOfOthersAreNeitherListedNorDeleted(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, nil)
	inst := tc.addInstance(t, "us-central1-a", "node-1")
	ctx := context.Background()
	owner := ownership.ForCluster(cluster)
	foreign := []*compute.Route{
		// Our prefix, but made by hand: no marker.
		{Name: owner.ResourceName("r", "by-hand"), Description: "made by hand"},
		// Another cluster's route.
		{Name: ownership.ForCluster("other").ResourceName("r", "x"), Description: ownership.ForCluster("other").Description(nil)},
	}
	for _, r := range foreign {
		r.Network, r.DestRange, r.NextHopInstance = "global/networks/vpc", "10.99.0.0/24", inst.SelfLink
		must(t, tc.Cloud)(tc.Compute.Routes.Insert(tc.Project, r).Do())
	}
	if got, err := tc.provider.ListRoutes(ctx, cluster); err != nil || len(got) != 0 {
		t.Errorf("ListRoutes = %v, %v; want none of the foreign routes", got, err)
	}
	if err := tc.provider.DeleteRoute(ctx, cluster, &cloudprovider.Route{Name: foreign[0].Name}); err == nil {
		t.Errorf("DeleteRoute deleted a route without the cluster's marker")
	}
	if _, err := tc.Compute.Routes.Get(tc.Project, foreign[0].Name).Do(); err != nil {
		t.Errorf("the foreign route is gone: %v", err)
	}
}

func TestARouteToADeletedInstanceIsABlackhole(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, nil)
	tc.addInstance(t, "us-central1-a", "node-1")
	ctx := context.Background()
	if err := tc.provider.CreateRoute(ctx, cluster, "uid-1", &cloudprovider.Route{TargetNode: types.NodeName("node-1"), DestinationCIDR: "10.64.1.0/24"}); err != nil {
		t.Fatal(err)
	}
	must(t, tc.Cloud)(tc.Compute.Instances.Delete(tc.Project, "us-central1-a", "node-1").Do())
	got, err := tc.provider.ListRoutes(ctx, cluster)
	if err != nil || len(got) != 1 || !got[0].Blackhole {
		t.Errorf("ListRoutes = %+v, %v; want one blackhole route", got, err)
	}
}

func TestCreateRouteForAMissingNodeFails(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, nil)
	err := tc.provider.CreateRoute(context.Background(), cluster, "uid-1", &cloudprovider.Route{TargetNode: "ghost", DestinationCIDR: "10.64.1.0/24"})
	if err == nil {
		t.Errorf("CreateRoute for a node without an instance succeeded")
	}
}

// The route controller calls CreateRoute once per pod CIDR of a dual-stack
// node with the same name hint (the node's UID), so each family needs a
// route of its own name, and the IPv4 one keeps the name it always had.
func TestADualStackNodeGetsOneRoutePerPodCIDR(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, nil)
	fixture.InsertSubnetwork(t, tc.Cloud, tc.Project, "us-central1", &compute.Subnetwork{Name: "dual", Network: "global/networks/vpc",
		IpCidrRange: "10.1.0.0/24", StackType: "IPV4_IPV6", Ipv6AccessType: "EXTERNAL"})
	sub, err := tc.Compute.Subnetworks.Get(tc.Project, "us-central1", "dual").Do()
	if err != nil {
		t.Fatal(err)
	}
	// The interface's external IPv6 range: the first /96 of the subnetwork's /64.
	nodeV6 := netip.MustParsePrefix(sub.ExternalIpv6Prefix).Addr().String()
	must(t, tc.Cloud)(tc.Compute.Instances.Insert(tc.Project, "us-central1-a", &compute.Instance{
		Name: "node-1", MachineType: "zones/us-central1-a/machineTypes/e2-standard-4", CanIpForward: true,
		Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
			InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Subnetwork: "regions/us-central1/subnetworks/dual", StackType: "IPV4_IPV6",
			Ipv6AccessConfigs: []*compute.AccessConfig{{Type: "DIRECT_IPV6", ExternalIpv6: nodeV6, ExternalIpv6PrefixLength: 96}}}},
	}).Do())
	ctx := context.Background()
	for _, cidr := range []string{"10.64.1.0/24", "fd00:10:64:1::/64"} {
		if err := tc.provider.CreateRoute(ctx, cluster, "uid-1", &cloudprovider.Route{TargetNode: "node-1", DestinationCIDR: cidr}); err != nil {
			t.Fatalf("CreateRoute %s: %v", cidr, err)
		}
	}
	got, err := tc.provider.ListRoutes(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	owner := ownership.ForCluster(cluster)
	want := []*cloudprovider.Route{
		{Name: owner.ResourceName("r", "uid-1"), TargetNode: "node-1", DestinationCIDR: "10.64.1.0/24"},
		{Name: owner.ResourceName("r", "uid-1-v6"), TargetNode: "node-1", DestinationCIDR: "fd00:10:64:1::/64"},
	}
	sortRoutes := cmpopts.SortSlices(func(a, b *cloudprovider.Route) bool { return a.Name < b.Name })
	if diff := cmp.Diff(want, got, sortRoutes); diff != "" {
		t.Errorf("ListRoutes (-want +got):\n%s", diff)
	}
}

// A route of the right name but for another CIDR (a pod CIDR that changed,
// or another family's route under the same name) is not a created route.
func TestCreateRouteRefusesARouteOfTheSameNameToAnotherCIDR(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, nil)
	tc.addInstance(t, "us-central1-a", "node-1")
	ctx := context.Background()
	if err := tc.provider.CreateRoute(ctx, cluster, "uid-1", &cloudprovider.Route{TargetNode: "node-1", DestinationCIDR: "10.64.1.0/24"}); err != nil {
		t.Fatal(err)
	}
	err := tc.provider.CreateRoute(ctx, cluster, "uid-1", &cloudprovider.Route{TargetNode: "node-1", DestinationCIDR: "10.64.2.0/24"})
	if err == nil || !strings.Contains(err.Error(), "10.64.1.0/24") {
		t.Errorf("CreateRoute over a route to another CIDR = %v; want an error naming the route's CIDR", err)
	}
}

// An IPv6 pod CIDR for a node whose instance has no IPv6 address cannot be
// routed; CreateRoute says so rather than reporting the node networked.
func TestAnIPv6PodCIDROnAnIPv4OnlyInstanceIsAClearError(t *testing.T) {
	tc := newTestCloud(t, fakegce.Config{}, nil)
	tc.addInstance(t, "us-central1-a", "node-1")
	err := tc.provider.CreateRoute(context.Background(), cluster, "uid-1", &cloudprovider.Route{TargetNode: "node-1", DestinationCIDR: "fd00:10:64:1::/64"})
	if err == nil || !strings.Contains(err.Error(), "no IPv6 address") {
		t.Errorf("CreateRoute = %v; want an error saying the instance has no IPv6 address", err)
	}
	if got, _ := tc.provider.ListRoutes(context.Background(), cluster); len(got) != 0 {
		t.Errorf("routes made: %v", got)
	}
}

func TestDesiredRoute(t *testing.T) {
	owner := ownership.ForCluster(cluster)
	const net = ownership.LinkBase + "projects/host/global/networks/vpc"
	dual := &compute.Instance{Name: "node-1", SelfLink: ownership.LinkBase + "projects/p/zones/z/instances/node-1",
		NetworkInterfaces: []*compute.NetworkInterface{{NetworkIP: "10.0.0.2", Ipv6AccessConfigs: []*compute.AccessConfig{{ExternalIpv6: "2600:1900::1"}}}}}
	v4only := &compute.Instance{Name: "node-1", SelfLink: dual.SelfLink, NetworkInterfaces: []*compute.NetworkInterface{{NetworkIP: "10.0.0.2"}}}
	desc := owner.Description(map[string]string{ownership.NodeKey: "node-1"})
	tests := []struct {
		name         string
		cidr         string
		inst         *compute.Instance
		crossProject bool
		want         *compute.Route
		wantErr      bool
	}{
		{name: "an IPv4 pod CIDR keeps the name of the node's UID and goes to the instance", cidr: "10.64.1.0/24", inst: dual,
			want: &compute.Route{Name: owner.ResourceName("r", "uid-1"), DestRange: "10.64.1.0/24", NextHopInstance: dual.SelfLink}},
		{name: "an IPv6 pod CIDR gets a name of its own", cidr: "fd00:1::/64", inst: dual,
			want: &compute.Route{Name: owner.ResourceName("r", "uid-1-v6"), DestRange: "fd00:1::/64", NextHopInstance: dual.SelfLink}},
		{name: "an IPv4 route in another project names the instance's internal address", cidr: "10.64.1.0/24", inst: dual, crossProject: true,
			want: &compute.Route{Name: owner.ResourceName("r", "uid-1"), DestRange: "10.64.1.0/24", NextHopIp: "10.0.0.2"}},
		{name: "an IPv6 route in another project names the instance's IPv6 address", cidr: "fd00:1::/64", inst: dual, crossProject: true,
			want: &compute.Route{Name: owner.ResourceName("r", "uid-1-v6"), DestRange: "fd00:1::/64", NextHopIp: "2600:1900::1"}},
		{name: "an IPv6 pod CIDR on an instance without IPv6 is an error", cidr: "fd00:1::/64", inst: v4only, wantErr: true},
		{name: "a pod CIDR that is not a CIDR is an error", cidr: "10.64.1.0", inst: dual, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := desiredRoute(owner, "uid-1", &cloudprovider.Route{TargetNode: "node-1", DestinationCIDR: tt.cidr}, tt.inst, net, tt.crossProject)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			tt.want.Network, tt.want.Priority, tt.want.Description = net, routePriority, desc
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("desiredRoute (-want +got):\n%s", diff)
			}
		})
	}
}
