package fakegce_test

import (
	"testing"

	"google.golang.org/api/compute/v1"
)

// Releasing a reserved address that a forwarding rule uses is allowed: the
// reservation goes, the rule keeps its IP as an ephemeral one. Upstream's
// external load balancer relies on it: it reserves a temporary address,
// creates the rule and releases the address at once, "which just demotes
// it to ephemeral" (kubernetes/cloud-provider-gcp
// providers/gce/gce_loadbalancer_external.go); its internal one does the
// same ("Now that the controller knows the forwarding rule exists, we can
// release the address", providers/gce/gce_loadbalancer_internal.go).
func TestReleasingAnAddressAForwardingRuleUsesDemotesItToEphemeral(t *testing.T) {
	tests := []struct {
		name    string
		address *compute.Address
		rule    func(ip string) *compute.ForwardingRule
	}{
		{"an external rule on a target pool", &compute.Address{Name: "addr"}, func(ip string) *compute.ForwardingRule {
			return newForwardingRule("fr", "pool", withIP(ip))
		}},
		{"an internal rule on a backend service", &compute.Address{Name: "addr", AddressType: "INTERNAL",
			Subnetwork: "regions/" + region + "/subnetworks/default"}, func(ip string) *compute.ForwardingRule {
			return &compute.ForwardingRule{Name: "fr", IPAddress: ip, IPProtocol: "TCP", Ports: []string{"80"},
				LoadBalancingScheme: "INTERNAL", BackendService: "regions/" + region + "/backendServices/bs"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t)
			defaultNetwork(t, c)
			insertInstance(t, c, newInstance("vm"))
			insertTargetPool(t, c, newTargetPool("pool", "vm"))
			insertRegionHealthCheck(t, c, "hc")
			wait(t, c)(c.Compute.RegionBackendServices.Insert(c.Project, region, &compute.BackendService{Name: "bs",
				LoadBalancingScheme: "INTERNAL", Protocol: "TCP", HealthChecks: []string{"regions/" + region + "/healthChecks/hc"}}).Do())
			wait(t, c)(c.Compute.Addresses.Insert(c.Project, region, tt.address).Do())
			a, err := c.Compute.Addresses.Get(c.Project, region, "addr").Do()
			if err != nil {
				t.Fatal(err)
			}
			wait(t, c)(c.Compute.ForwardingRules.Insert(c.Project, region, tt.rule(a.Address)).Do())

			wait(t, c)(c.Compute.Addresses.Delete(c.Project, region, "addr").Do())

			if _, err := c.Compute.Addresses.Get(c.Project, region, "addr").Do(); func() bool { code, _ := apiError(t, err); return code != 404 }() {
				t.Errorf("address after release: err %v, want 404", err)
			}
			fr, err := c.Compute.ForwardingRules.Get(c.Project, region, "fr").Do()
			if err != nil || fr.IPAddress != a.Address {
				t.Fatalf("forwarding rule after release: IP %q (err %v), want it to keep %s", fr.IPAddress, err, a.Address)
			}
			// The IP is still the rule's: a new reservation does not get it.
			next := *tt.address
			next.Name = "next"
			wait(t, c)(c.Compute.Addresses.Insert(c.Project, region, &next).Do())
			if b, err := c.Compute.Addresses.Get(c.Project, region, "next").Do(); err != nil || b.Address == a.Address {
				t.Errorf("a new address got %s (err %v); the forwarding rule still holds %s", b.Address, err, a.Address)
			}
		})
	}
}
