package fakegce_test

import (
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
)

// Shared VPC: the network lives in a host project, and its firewall rules,
// routes and subnetworks with it. A resource of those kinds in another
// project that names the network is refused (400 invalid, "Cross project
// referencing is not allowed for this resource."); instances, addresses and
// forwarding rules of a service project may use the host's subnetworks.
func TestSharedVPCResourcesLiveInTheNetworksProject(t *testing.T) {
	c := start(t, func(cfg *fakegce.Config) { cfg.Projects = []string{"service-project", "host-project"} })
	hostNet := link("projects/host-project/global/networks/shared")
	wait(t, c)(c.Compute.Networks.Insert("host-project", newNetwork("shared", customMode)).Do())
	wait(t, c)(c.Compute.Subnetworks.Insert("host-project", "us-central1", &compute.Subnetwork{Name: "nodes", Network: hostNet, IpCidrRange: "10.0.0.0/24"}).Do())

	refused := []struct {
		name string
		do   func() (*compute.Operation, error)
	}{
		{"a firewall rule", func() (*compute.Operation, error) {
			return c.Compute.Firewalls.Insert("service-project", &compute.Firewall{Name: "fw", Network: hostNet,
				Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}}).Do()
		}},
		{"a route", func() (*compute.Operation, error) {
			return c.Compute.Routes.Insert("service-project", &compute.Route{Name: "r", Network: hostNet, DestRange: "10.64.0.0/24",
				NextHopIp: "10.0.0.5"}).Do()
		}},
		{"a subnetwork", func() (*compute.Operation, error) {
			return c.Compute.Subnetworks.Insert("service-project", "us-central1", &compute.Subnetwork{Name: "s", Network: hostNet, IpCidrRange: "10.1.0.0/24"}).Do()
		}},
	}
	for _, tt := range refused {
		_, err := tt.do()
		if code, reason := apiError(t, err); code != 400 || reason != "invalid" ||
			!strings.Contains(err.Error(), "Invalid value for field 'resource.network': '"+hostNet+"'. Cross project referencing is not allowed for this resource.") {
			t.Errorf("%s in the service project naming the host's network: %v, want 400 invalid, cross project", tt.name, err)
		}
	}
	// In the host project they are fine, and so is a service project's
	// instance on the host's subnetwork.
	wait(t, c)(c.Compute.Firewalls.Insert("host-project", &compute.Firewall{Name: "fw", Network: hostNet,
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp"}}}).Do())
	wait(t, c)(c.Compute.Instances.Insert("service-project", "us-central1-a", &compute.Instance{Name: "vm", MachineType: "zones/us-central1-a/machineTypes/e2-small",
		Disks: []*compute.AttachedDisk{{Boot: true, AutoDelete: true,
			InitializeParams: &compute.AttachedDiskInitializeParams{SourceImage: "projects/debian-cloud/global/images/family/debian-12"}}},
		NetworkInterfaces: []*compute.NetworkInterface{{Subnetwork: link("projects/host-project/regions/us-central1/subnetworks/nodes")}}}).Do())
	// A route's next-hop instance must be in the route's project
	// (https://docs.cloud.google.com/vpc/docs/static-routes, "Next hops and
	// features"); the service project's VM is named by its address instead.
	vm := link("projects/service-project/zones/us-central1-a/instances/vm")
	_, err := c.Compute.Routes.Insert("host-project", &compute.Route{Name: "r", Network: hostNet, DestRange: "10.64.0.0/24", NextHopInstance: vm}).Do()
	if code, reason := apiError(t, err); code != 400 || reason != "invalid" || !strings.Contains(err.Error(), "'resource.nextHopInstance'") {
		t.Errorf("a host project route to a service project's instance: %v, want 400 invalid on resource.nextHopInstance", err)
	}
	inst, err := c.Compute.Instances.Get("service-project", "us-central1-a", "vm").Do()
	if err != nil {
		t.Fatal(err)
	}
	wait(t, c)(c.Compute.Routes.Insert("host-project", &compute.Route{Name: "r", Network: hostNet, DestRange: "10.64.0.0/24",
		NextHopIp: inst.NetworkInterfaces[0].NetworkIP}).Do())
}
