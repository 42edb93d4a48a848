package nodeip

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

func TestDesiredRule(t *testing.T) {
	p := ruleParams{Owner: testOwner, Network: testNetwork, NodeTags: []string{"k8s-node"}}
	two := targetsNamed("n1", "n2")
	tests := []struct {
		name    string
		svc     *v1.Service
		targets []target
		ranges  []string
		want    firewall.Rule
	}{
		{
			name:    "the rule opens exactly the Service's ports, from the source ranges, to the targets' internal addresses",
			svc:     newService("web", withPorts(443, 80), withProtocolPorts(v1.ProtocolUDP, 53)),
			targets: two,
			ranges:  []string{"203.0.113.0/24"},
			want: firewall.Rule{
				Name: testFirewallName(string(uidFor("web"))), Network: testNetwork, Direction: firewall.Ingress, Priority: 1000,
				SourceRanges: []string{"203.0.113.0/24"}, DestinationRanges: []string{"10.0.0.1/32", "10.0.0.2/32"},
				TargetTags: []string{"k8s-node"},
				Allowed:    []firewall.Allow{{Protocol: "tcp", Ports: []string{"80", "443"}}, {Protocol: "udp", Ports: []string{"53"}}},
				Description: testOwner.Description(map[string]string{ownership.ServiceKey: "default/web",
					ownership.ServiceUIDKey: string(uidFor("web"))}),
			},
		},
		{
			name:    "with ExternalIP published, the destinations are still the internal addresses (1:1 NAT comes first)",
			svc:     newService("ext", withPorts(8080)),
			targets: []target{{Node: "n1", Addresses: []netip.Addr{netip.MustParseAddr("203.0.113.7")}, Internal: []netip.Addr{netip.MustParseAddr("10.0.0.7")}}},
			ranges:  []string{"0.0.0.0/0"},
			want: firewall.Rule{
				Name: testFirewallName(string(uidFor("ext"))), Network: testNetwork, Direction: firewall.Ingress, Priority: 1000,
				SourceRanges: []string{"0.0.0.0/0"}, DestinationRanges: []string{"10.0.0.7/32"}, TargetTags: []string{"k8s-node"},
				Allowed: []firewall.Allow{{Protocol: "tcp", Ports: []string{"8080"}}},
				Description: testOwner.Description(map[string]string{ownership.ServiceKey: "default/ext",
					ownership.ServiceUIDKey: string(uidFor("ext"))}),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ranges []netip.Prefix
			for _, r := range tt.ranges {
				ranges = append(ranges, netip.MustParsePrefix(r))
			}
			got := desiredRule(tt.svc, testFirewallName(string(tt.svc.UID)), portsOf(tt.svc), tt.targets, ranges, p)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rule (-want +got):\n%s", diff)
			}
			plan := firewall.Diff([]firewall.Rule{got}, nil, testOwner, firewall.ForService(string(tt.svc.UID)))
			if len(plan.Conflicts) > 0 {
				t.Errorf("the firewall package would not own the rule: %v", plan.Conflicts)
			}
		})
	}
}

func TestAdmitted(t *testing.T) {
	name := testFirewallName("u1")
	ours := testOwner.Description(map[string]string{ownership.ServiceUIDKey: "u1"})
	tests := []struct {
		name string
		fw   *compute.Firewall
		want []string
	}{
		{"no rule admits nothing", nil, nil},
		{"our rule admits its single-address destinations",
			&compute.Firewall{Name: name, Description: ours, DestinationRanges: []string{"10.0.0.1/32", "10.0.1.0/24", "fd00::1/128"}},
			[]string{"10.0.0.1", "fd00::1"}},
		{"a disabled rule admits nothing",
			&compute.Firewall{Name: name, Description: ours, Disabled: true, DestinationRanges: []string{"10.0.0.1/32"}}, nil},
		{"a rule without the cluster's marker admits nothing",
			&compute.Firewall{Name: name, Description: "opened by hand", DestinationRanges: []string{"10.0.0.1/32"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for a := range admitted(tt.fw, testOwner) {
				got = append(got, a.String())
			}
			if diff := cmp.Diff(tt.want, got, sortStrings); diff != "" {
				t.Errorf("admitted (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a target is published only when every internal address of it is admitted", func(t *testing.T) {
		dual := target{Node: "dual", Internal: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1")}}
		single := target{Node: "single", Internal: []netip.Addr{netip.MustParseAddr("10.0.0.2")}}
		ok := map[netip.Addr]bool{netip.MustParseAddr("10.0.0.1"): true, netip.MustParseAddr("10.0.0.2"): true}
		if diff := cmp.Diff([]string{"single"}, nodeNames(admittedTargets([]target{dual, single}, ok))); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
