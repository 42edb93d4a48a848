package fakegce_test

import (
	"testing"

	"google.golang.org/api/compute/v1"
)

// Reserving the IP an internal forwarding rule holds as an ephemeral one
// promotes it to a static address that the rule goes on using. Upstream's
// internal load balancer does this on every resync: its address manager
// reserves the rule's current IP under the load balancer's name and takes a
// refusal for someone else's reservation (kubernetes/cloud-provider-gcp
// providers/gce/gce_address_manager.go HoldAddress), and the API documents
// promoting an ephemeral internal IP to a static one
// (https://cloud.google.com/vpc/docs/reserve-static-internal-ip-address).
func TestReservingTheIPOfAnInternalForwardingRulePromotesIt(t *testing.T) {
	c := start(t)
	defaultNetwork(t, c)
	insertRegionHealthCheck(t, c, "hc")
	wait(t, c)(c.Compute.RegionBackendServices.Insert(c.Project, region, &compute.BackendService{Name: "bs",
		LoadBalancingScheme: "INTERNAL", Protocol: "TCP", HealthChecks: []string{"regions/" + region + "/healthChecks/hc"}}).Do())
	wait(t, c)(c.Compute.ForwardingRules.Insert(c.Project, region, &compute.ForwardingRule{Name: "fr", IPProtocol: "TCP",
		Ports: []string{"80"}, LoadBalancingScheme: "INTERNAL", BackendService: "regions/" + region + "/backendServices/bs"}).Do())
	fr, err := c.Compute.ForwardingRules.Get(c.Project, region, "fr").Do()
	if err != nil {
		t.Fatal(err)
	}

	wait(t, c)(c.Compute.Addresses.Insert(c.Project, region, &compute.Address{Name: "promoted", AddressType: "INTERNAL",
		Address: fr.IPAddress, Subnetwork: fr.Subnetwork}).Do())

	a, err := c.Compute.Addresses.Get(c.Project, region, "promoted").Do()
	if err != nil {
		t.Fatal(err)
	}
	if a.Address != fr.IPAddress || a.Status != "IN_USE" || len(a.Users) != 1 || a.Users[0] != fr.SelfLink {
		t.Errorf("promoted address = %s %s users %v, want %s IN_USE users [%s]", a.Address, a.Status, a.Users, fr.IPAddress, fr.SelfLink)
	}
	// Once promoted, the IP is reserved: no one else may reserve it.
	err = opErr(c)(c.Compute.Addresses.Insert(c.Project, region, &compute.Address{Name: "second", AddressType: "INTERNAL",
		Address: fr.IPAddress, Subnetwork: fr.Subnetwork}).Do())
	if code, _ := apiError(t, err); code != 400 {
		t.Errorf("reserving the promoted IP again: err %v, want 400", err)
	}
	// Deleting the rule leaves the promoted address reserved and unused.
	wait(t, c)(c.Compute.ForwardingRules.Delete(c.Project, region, "fr").Do())
	if a, err := c.Compute.Addresses.Get(c.Project, region, "promoted").Do(); err != nil || a.Status != "RESERVED" || len(a.Users) != 0 {
		t.Errorf("promoted address after its rule is gone = %+v (err %v), want RESERVED with no users", a, err)
	}
}
