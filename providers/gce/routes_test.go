package gce

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	"k8s.io/apimachinery/pkg/types"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
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
