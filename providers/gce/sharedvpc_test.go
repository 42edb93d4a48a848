package gce

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/annotations"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/providers/gce/cloudconfig"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// A Shared VPC cluster: the nodes and the load balancers are in the
// service project, the network, its subnetwork, firewall rules and routes
// in the host project (network-project-id), where the API wants them.
func TestASharedVPCClusterPutsTheNetworksResourcesInTheHostProject(t *testing.T) {
	const service, host = "service-project", "host-project"
	fc := fakegcetest.Start(t, fakegce.Config{Projects: []string{service, host}, OpLatency: 20 * time.Millisecond})
	waitOp := must(t, fc)
	hostNet := ownership.LinkBase + "projects/" + host + "/global/networks/shared"
	fixture.InsertNetwork(t, fc, host, fixture.CustomNetwork("shared"))
	fixture.InsertSubnetwork(t, fc, host, "us-central1", &compute.Subnetwork{Name: "nodes", Network: hostNet, IpCidrRange: "10.0.0.0/24"})
	waitOp(fc.Compute.Instances.Insert(service, "us-central1-a", &compute.Instance{
		Name: "node-1", MachineType: "zones/us-central1-a/machineTypes/e2-standard-4",
		Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
			InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Subnetwork: ownership.LinkBase + "projects/" + host + "/regions/us-central1/subnetworks/nodes",
			AccessConfigs: []*compute.AccessConfig{{}}}},
		Tags: &compute.Tags{Items: []string{"k8s-node"}},
	}).Do())
	cfg := &cloudconfig.Config{ProjectID: service, NetworkProjectID: host, NetworkName: "shared", LocalZone: "us-central1-a",
		NodeTags: []string{"k8s-node"}, APIEndpoint: fc.Endpoint, NoAuthentication: true, API: cloudconfig.APIConfig{QPS: 1000, Burst: 1000, MaxRetries: 1}}
	p, err := New(context.Background(), cfg, Options{ClusterName: cluster})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	nodes := []*v1.Node{node("node-1", "gce://"+service+"/us-central1-a/node-1")}
	// owned lists the cluster's firewall rules, routes and forwarding rules
	// in a project.
	owned := func(project string) []string {
		var names []string
		fws, err := fc.Compute.Firewalls.List(project).Do()
		if err != nil {
			t.Fatal(err)
		}
		for _, fw := range fws.Items {
			names = append(names, "firewall "+fw.Name)
		}
		routes, err := fc.Compute.Routes.List(project).Do()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range routes.Items {
			names = append(names, "route "+r.Name)
		}
		frs, err := fc.Compute.ForwardingRules.List(project, "us-central1").Do()
		if err != nil {
			t.Fatal(err)
		}
		for _, fr := range frs.Items {
			names = append(names, "forwarding rule "+fr.Name)
		}
		return slices.DeleteFunc(names, func(s string) bool { return !strings.Contains(s, " "+p.owner.Prefix()) })
	}

	external := lbService(nil)
	if _, err := p.EnsureLoadBalancer(ctx, cluster, external, nodes); err != nil {
		t.Fatalf("external: %v", err)
	}
	internal := lbService(map[string]string{annotations.GKELoadBalancerType: "Internal"})
	internal.Name, internal.UID = "api", "7b2e7d2f-1111-4222-8333-444455556666"
	st, err := p.EnsureLoadBalancer(ctx, cluster, internal, nodes)
	if err != nil {
		t.Fatalf("internal: %v", err)
	}
	if ip := netip.MustParseAddr(st.Ingress[0].IP); !netip.MustParsePrefix("10.0.0.0/24").Contains(ip) {
		t.Errorf("the internal address %s is not from the host project's subnetwork nodes", ip)
	}
	if err := p.CreateRoute(ctx, cluster, "uid-1", &cloudprovider.Route{TargetNode: "node-1", DestinationCIDR: "10.64.1.0/24"}); err != nil {
		t.Fatalf("route: %v", err)
	}

	hostOwned, serviceOwned := owned(host), owned(service)
	countKind := func(list []string, kind string) int {
		return len(slices.DeleteFunc(slices.Clone(list), func(s string) bool { return !strings.HasPrefix(s, kind+" ") }))
	}
	if countKind(hostOwned, "firewall") < 3 || countKind(hostOwned, "route") != 1 || countKind(hostOwned, "forwarding rule") != 0 {
		t.Errorf("host project has %v; want the load balancers' firewall rules and the route, no forwarding rule", hostOwned)
	}
	if countKind(serviceOwned, "firewall") != 0 || countKind(serviceOwned, "route") != 0 || countKind(serviceOwned, "forwarding rule") != 2 {
		t.Errorf("service project has %v; want the two forwarding rules only", serviceOwned)
	}
	fw, err := fc.Compute.Firewalls.Get(host, strings.TrimSuffix(ownership.NodeIPFirewallName(p.owner.LoadBalancerBase(string(internal.UID))), "-nip")+"-fw").Do()
	if err != nil || !slices.Contains(fw.SourceRanges, "10.0.0.0/24") {
		t.Errorf("the internal load balancer's firewall rule: %+v, %v; want the host network's ranges as sources", fw, err)
	}

	// Everything goes again, from both projects.
	for _, svc := range []*v1.Service{external, internal} {
		if err := p.EnsureLoadBalancerDeleted(ctx, cluster, svc); err != nil {
			t.Fatalf("delete %s: %v", svc.Name, err)
		}
	}
	routes, err := p.ListRoutes(ctx, cluster)
	if err != nil || len(routes) != 1 {
		t.Fatalf("ListRoutes = %v, %v; want the route in the host project", routes, err)
	}
	if err := p.DeleteRoute(ctx, cluster, routes[0]); err != nil {
		t.Fatal(err)
	}
	if left := append(owned(host), owned(service)...); len(left) != 0 {
		t.Errorf("left after deleting: %v", left)
	}
}

// An internal load balancer that names its subnetwork by annotation on a
// Shared VPC cluster: the subnetwork is the host project's, as the network
// is, so the address comes from there.
func TestAnInternalSubnetAnnotationOnASharedVPCClusterNamesTheHostProjectsSubnetwork(t *testing.T) {
	const service, host = "service-project", "host-project"
	fc := fakegcetest.Start(t, fakegce.Config{Projects: []string{service, host}})
	hostNet := ownership.LinkBase + "projects/" + host + "/global/networks/shared"
	fixture.InsertNetwork(t, fc, host, fixture.CustomNetwork("shared"))
	fixture.InsertSubnetwork(t, fc, host, "us-central1", &compute.Subnetwork{Name: "nodes", Network: hostNet, IpCidrRange: "10.0.0.0/24"})
	fixture.InsertSubnetwork(t, fc, host, "us-central1", &compute.Subnetwork{Name: "ilb", Network: hostNet, IpCidrRange: "10.0.1.0/24"})
	cfg := &cloudconfig.Config{ProjectID: service, NetworkProjectID: host, NetworkName: "shared", SubnetworkName: "nodes", LocalZone: "us-central1-a",
		NodeTags: []string{"k8s-node"}, APIEndpoint: fc.Endpoint, NoAuthentication: true, API: cloudconfig.APIConfig{QPS: 1000, Burst: 1000, MaxRetries: 1}}
	p, err := New(context.Background(), cfg, Options{ClusterName: cluster})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc := lbService(map[string]string{annotations.GKELoadBalancerType: "Internal", annotations.InternalSubnet: "ilb"})
	st, err := p.EnsureLoadBalancer(ctx, cluster, svc, nil)
	if err != nil {
		t.Fatalf("EnsureLoadBalancer: %v", err)
	}
	if ip := netip.MustParseAddr(st.Ingress[0].IP); !netip.MustParsePrefix("10.0.1.0/24").Contains(ip) {
		t.Errorf("the internal address %s is not from the host project's subnetwork ilb (10.0.1.0/24)", ip)
	}
	a, err := fc.Compute.Addresses.Get(service, "us-central1", p.GetLoadBalancerName(ctx, cluster, svc)).Do()
	if err != nil || a.Subnetwork != ownership.LinkBase+"projects/"+host+"/regions/us-central1/subnetworks/ilb" {
		t.Errorf("address = %+v, %v; want it in the host project's subnetwork ilb", a, err)
	}
	if err := p.EnsureLoadBalancerDeleted(ctx, cluster, svc); err != nil {
		t.Fatalf("delete: %v", err)
	}
}

// On a Shared VPC cluster the route lives in the host project, and the API
// wants a next-hop instance in the route's own project
// (https://docs.cloud.google.com/vpc/docs/static-routes, "Next hops and
// features"): the route names the node by its internal IPv4 address instead.
func TestASharedVPCRouteNamesTheNodeByItsInternalAddress(t *testing.T) {
	const service, host = "service-project", "host-project"
	fc := fakegcetest.Start(t, fakegce.Config{Projects: []string{service, host}})
	waitOp := must(t, fc)
	hostNet := ownership.LinkBase + "projects/" + host + "/global/networks/shared"
	fixture.InsertNetwork(t, fc, host, fixture.CustomNetwork("shared"))
	fixture.InsertSubnetwork(t, fc, host, "us-central1", &compute.Subnetwork{Name: "nodes", Network: hostNet, IpCidrRange: "10.0.0.0/24"})
	waitOp(fc.Compute.Instances.Insert(service, "us-central1-a", &compute.Instance{
		Name: "node-1", MachineType: "zones/us-central1-a/machineTypes/e2-standard-4", CanIpForward: true,
		Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
			InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Subnetwork: ownership.LinkBase + "projects/" + host + "/regions/us-central1/subnetworks/nodes"}},
	}).Do())
	inst, err := fc.Compute.Instances.Get(service, "us-central1-a", "node-1").Do()
	if err != nil {
		t.Fatal(err)
	}
	cfg := &cloudconfig.Config{NodeTags: []string{"k8s-node"}, ProjectID: service, NetworkProjectID: host, NetworkName: "shared", LocalZone: "us-central1-a",
		APIEndpoint: fc.Endpoint, NoAuthentication: true, API: cloudconfig.APIConfig{QPS: 1000, Burst: 1000, MaxRetries: 1}}
	p, err := New(context.Background(), cfg, Options{ClusterName: cluster})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.CreateRoute(ctx, cluster, "uid-1", &cloudprovider.Route{TargetNode: "node-1", DestinationCIDR: "10.64.1.0/24"}); err != nil {
		t.Fatalf("CreateRoute: %v", err)
	}
	routes, err := fc.Compute.Routes.List(host).Do()
	if err != nil {
		t.Fatal(err)
	}
	var mine []*compute.Route
	for _, r := range routes.Items {
		if strings.HasPrefix(r.Name, p.owner.Prefix()) {
			mine = append(mine, r)
		}
	}
	if len(mine) != 1 || mine[0].NextHopIp != inst.NetworkInterfaces[0].NetworkIP || mine[0].NextHopInstance != "" {
		t.Fatalf("host project routes = %+v; want one with nextHopIp %s and no next-hop instance", mine, inst.NetworkInterfaces[0].NetworkIP)
	}
	listed, err := p.ListRoutes(ctx, cluster)
	if err != nil || len(listed) != 1 || listed[0].TargetNode != "node-1" || listed[0].DestinationCIDR != "10.64.1.0/24" {
		t.Errorf("ListRoutes = %+v, %v; want the route to node-1", listed, err)
	}
}
