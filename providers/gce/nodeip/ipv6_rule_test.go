package nodeip

import (
	"net/netip"
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
)

// A published IPv6 address always has an open IPv6 firewall rule, whatever
// address type it came from. IPv6 has no NAT in a VPC: an interface on a
// subnetwork whose ipv6AccessType is EXTERNAL holds its external IPv6
// address itself (ipv6AccessConfigs[].externalIpv6; upstream reports it as
// an InternalIP, kubernetes/cloud-provider-gcp providers/gce/gce_instances.go
// getIPV6AddressFromInterface), so the packet's destination is the address
// published, not an internal one.
func TestAPublishedIPv6AddressHasAnOpenIPv6Rule(t *testing.T) {
	dual := []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}
	tests := []struct {
		name        string
		node        *v1.Node
		addressType v1.NodeAddressType
	}{
		{name: "an external IPv6 address reported as an InternalIP, published as one",
			node:        newNode("n1", fixture.InternalIP("10.0.0.1"), fixture.InternalIP("2600:1900:4000:1::1"), fixture.ExternalIP("203.0.113.1")),
			addressType: v1.NodeInternalIP},
		{name: "an external IPv6 address reported as an ExternalIP (before nodes were re-initialised), published as one",
			node:        newNode("n1", fixture.InternalIP("10.0.0.1"), fixture.ExternalIP("203.0.113.1"), fixture.ExternalIP("2600:1900:4000:1::1")),
			addressType: v1.NodeExternalIP},
		{name: "an ExternalIP IPv6 address on a node that also has an internal IPv6 address",
			node:        newNode("n1", fixture.InternalIP("10.0.0.1"), fixture.InternalIP("fd20:1:2::1"), fixture.ExternalIP("203.0.113.1"), fixture.ExternalIP("2600:1900:4000:1::1")),
			addressType: v1.NodeExternalIP},
		{name: "an internal IPv6 address published as an InternalIP",
			node:        newNode("n1", fixture.InternalIP("10.0.0.1"), fixture.InternalIP("fd20:1:2::1")),
			addressType: v1.NodeInternalIP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := newService("web", withPorts(443), fixture.Families(dual...))
			tgt, ok := targetOf(nodeInfoOf(tt.node), tt.addressType, dual)
			if !ok {
				t.Fatalf("node %v is no target", tt.node.Status.Addresses)
			}
			rules := desiredRules(svc, testRuleNames(string(svc.UID)), portsOf(svc), []target{tgt},
				mustSources([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}), ruleParams{Owner: testOwner, Network: testNetwork})
			open := map[netip.Addr]bool{}
			for _, r := range rules {
				for a := range admitted(r.Firewall(), testOwner) {
					open[a] = true
				}
			}
			published := ingressOf(admittedTargets([]target{tgt}, open), dual)
			var v6 []string
			for _, in := range published {
				if netip.MustParseAddr(in.IP).Is6() {
					v6 = append(v6, in.IP)
				}
			}
			if len(v6) == 0 {
				t.Fatalf("published %v: no IPv6 address (rules %+v)", published, rules)
			}
			for _, ip := range v6 {
				i := slices.IndexFunc(rules, func(r firewall.Rule) bool { return r.Name == testFirewallNameIPv6(string(svc.UID)) })
				if i < 0 || !slices.Contains(rules[i].DestinationRanges, ip+"/128") {
					t.Errorf("published %s, but no IPv6 rule opens it: %+v", ip, rules)
				}
			}
		})
	}
}
