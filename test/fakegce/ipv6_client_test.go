package fakegce_test

import (
	"net/netip"
	"testing"

	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fakegce/fakegcetest"
)

func TestDualStackSubnetworksHandOutIPv6Ranges(t *testing.T) {
	c := fakegcetest.Start(t, fakegce.Config{})
	p := c.Project
	if _, err := doneOp(c)(c.Compute.Networks.Insert(p, &compute.Network{Name: "net", ForceSendFields: []string{"AutoCreateSubnetworks"}}).Do()); err != nil {
		t.Fatal(err)
	}
	if _, err := doneOp(c)(c.Compute.Subnetworks.Insert(p, "us-central1", &compute.Subnetwork{Name: "ds", Network: "global/networks/net", IpCidrRange: "10.0.0.0/24",
		StackType: "IPV4_IPV6", Ipv6AccessType: "EXTERNAL"}).Do()); err != nil {
		t.Fatal(err)
	}
	sub, err := c.Compute.Subnetworks.Get(p, "us-central1", "ds").Do()
	if err != nil {
		t.Fatal(err)
	}
	v6, err := netip.ParsePrefix(sub.ExternalIpv6Prefix)
	if err != nil || v6.Bits() != 64 {
		t.Fatalf("externalIpv6Prefix = %q", sub.ExternalIpv6Prefix)
	}
	if _, err := doneOp(c)(c.Compute.Addresses.Insert(p, "us-central1", &compute.Address{Name: "v6", IpVersion: "IPV6", Subnetwork: sub.SelfLink}).Do()); err != nil {
		t.Fatal(err)
	}
	a, _ := c.Compute.Addresses.Get(p, "us-central1", "v6").Do()
	if ip, err := netip.ParseAddr(a.Address); err != nil || !v6.Contains(ip) || a.PrefixLength != 96 || a.Ipv6EndpointType != "NETLB" {
		t.Errorf("address = %s/%d %s", a.Address, a.PrefixLength, a.Ipv6EndpointType)
	}
	// A forwarding rule on it, and one with a fresh /96.
	if _, err := doneOp(c)(c.Compute.RegionHealthChecks.Insert(p, "us-central1", &compute.HealthCheck{Name: "hc", Type: "TCP"}).Do()); err != nil {
		t.Fatal(err)
	}
	if _, err := doneOp(c)(c.Compute.RegionBackendServices.Insert(p, "us-central1", &compute.BackendService{Name: "bs", LoadBalancingScheme: "EXTERNAL",
		HealthChecks: []string{"regions/us-central1/healthChecks/hc"}}).Do()); err != nil {
		t.Fatal(err)
	}
	if _, err := doneOp(c)(c.Compute.TargetPools.Insert(p, "us-central1", &compute.TargetPool{Name: "tp"}).Do()); err != nil {
		t.Fatal(err)
	}
	_, err = c.Compute.ForwardingRules.Insert(p, "us-central1", &compute.ForwardingRule{Name: "on-pool", IpVersion: "IPV6", Subnetwork: sub.SelfLink,
		Target: "regions/us-central1/targetPools/tp"}).Do()
	if code, _ := apiError(t, err); code != 400 {
		t.Errorf("an IPv6 rule to a target pool: %v, want 400", err)
	}
	// The API refuses an external IPv6 rule's address without its prefix
	// length (kubernetes/ingress-gce pkg/l4resources/forwarding_rules_ipv6.go).
	_, err = c.Compute.ForwardingRules.Insert(p, "us-central1", &compute.ForwardingRule{Name: "bare", IpVersion: "IPV6", Subnetwork: sub.SelfLink,
		IPAddress: a.Address, BackendService: "regions/us-central1/backendServices/bs"}).Do()
	if code, reason := apiError(t, err); code != 400 || reason != "invalid" {
		t.Errorf("an IPv6 rule on a bare address: %v, want 400 invalid", err)
	}
	for _, fr := range []*compute.ForwardingRule{
		{Name: "on-reserved", IpVersion: "IPV6", Subnetwork: sub.SelfLink, IPAddress: a.Address + "/96", BackendService: "regions/us-central1/backendServices/bs"},
		{Name: "fresh", IpVersion: "IPV6", Subnetwork: sub.SelfLink, BackendService: "regions/us-central1/backendServices/bs"},
	} {
		if _, err := doneOp(c)(c.Compute.ForwardingRules.Insert(p, "us-central1", fr).Do()); err != nil {
			t.Fatalf("insert %s: %v", fr.Name, err)
		}
	}
	// Both answer their address in CIDR form (kubernetes/ingress-gce
	// pkg/l4/address/to_use.go).
	fresh, _ := c.Compute.ForwardingRules.Get(p, "us-central1", "fresh").Do()
	if pfx, err := netip.ParsePrefix(fresh.IPAddress); err != nil || pfx.Bits() != 96 || !v6.Contains(pfx.Addr()) || pfx.Addr().String() == a.Address {
		t.Errorf("fresh rule's address = %q", fresh.IPAddress)
	}
	if onReserved, _ := c.Compute.ForwardingRules.Get(p, "us-central1", "on-reserved").Do(); onReserved.IPAddress != a.Address+"/96" {
		t.Errorf("the rule on the reserved address answers %q, want %s/96", onReserved.IPAddress, a.Address)
	}
	a, _ = c.Compute.Addresses.Get(p, "us-central1", "v6").Do()
	if a.Status != "IN_USE" {
		t.Errorf("reserved IPv6 address status %s, want IN_USE", a.Status)
	}
	// The rule's deletion frees the address.
	if _, err := doneOp(c)(c.Compute.ForwardingRules.Delete(p, "us-central1", "on-reserved").Do()); err != nil {
		t.Fatal(err)
	}
	if a, _ = c.Compute.Addresses.Get(p, "us-central1", "v6").Do(); a.Status != "RESERVED" {
		t.Errorf("reserved IPv6 address status %s after its rule went, want RESERVED", a.Status)
	}
	// An IPv4-only subnetwork has no IPv6 to give.
	if _, err := doneOp(c)(c.Compute.Subnetworks.Insert(p, "us-central1", &compute.Subnetwork{Name: "v4", Network: "global/networks/net", IpCidrRange: "10.1.0.0/24"}).Do()); err != nil {
		t.Fatal(err)
	}
	_, err = c.Compute.Addresses.Insert(p, "us-central1", &compute.Address{Name: "no", IpVersion: "IPV6", Subnetwork: "regions/us-central1/subnetworks/v4"}).Do()
	if code, _ := apiError(t, err); code != 400 {
		t.Errorf("an IPv6 address from an IPv4-only subnetwork: %v", err)
	}
}
