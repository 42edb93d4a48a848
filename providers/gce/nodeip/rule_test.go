package nodeip

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
	v1 "k8s.io/api/core/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/test/fixture"
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
			svc:     newService("web", withPorts(443, 80), fixture.Ports(v1.ProtocolUDP, 53)),
			targets: two,
			ranges:  []string{"203.0.113.0/24"},
			want: firewall.Rule{
				Name: testFirewallName(string(uidFor("web"))), Network: testNetwork, Direction: firewall.Ingress, Priority: 1000,
				SourceRanges: []string{"203.0.113.0/24"}, DestinationRanges: []string{"10.0.0.1/32", "10.0.0.2/32"},
				TargetTags: []string{"k8s-node"},
				Allowed:    []firewall.Allow{{Protocol: "tcp", Ports: []string{"80", "443"}}, {Protocol: "udp", Ports: []string{"53"}}},
				Description: testOwner.Description(map[string]string{ownership.ServiceKey: "default/web",
					ownership.ServiceUIDKey: string(uidFor("web")), ownership.ModeKey: ownership.ModeNodeIP}),
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
					ownership.ServiceUIDKey: string(uidFor("ext")), ownership.ModeKey: ownership.ModeNodeIP}),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ranges []netip.Prefix
			for _, r := range tt.ranges {
				ranges = append(ranges, netip.MustParsePrefix(r))
			}
			got := desiredRules(tt.svc, testRuleNames(string(tt.svc.UID)), portsOf(tt.svc), tt.targets, mustSources(ranges), p)
			if diff := cmp.Diff([]firewall.Rule{tt.want}, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			plan := firewall.Diff(got, nil, testOwner, firewall.ForNodeIP(string(tt.svc.UID)))
			if len(plan.Conflicts) > 0 {
				t.Errorf("the firewall package would not own the rule: %v", plan.Conflicts)
			}
		})
	}
}

// TestDesiredRulesByFamily follows a Service through the pure pipeline
// (settings, targets, decide) to its rules and published addresses: the
// compute API refuses a rule that mixes IPv4 and IPv6, so each family the
// Service is published in has a rule of its own.
func TestDesiredRulesByFamily(t *testing.T) {
	nodes := []*v1.Node{
		newNode("a", fixture.InternalIP("10.0.0.1"), fixture.InternalIP("fd00::1")),
		newNode("b", fixture.InternalIP("10.0.0.2"), fixture.InternalIP("fd00::2")),
		newNode("c", fixture.InternalIP("10.0.0.3")), // no IPv6 address
	}
	rule := func(svc *v1.Service, name string, sources, dests []string) firewall.Rule {
		return firewall.Rule{
			Name: name, Network: testNetwork, Direction: firewall.Ingress, Priority: 1000,
			SourceRanges: sources, DestinationRanges: dests,
			Allowed: []firewall.Allow{{Protocol: "tcp", Ports: []string{"80"}}},
			Description: testOwner.Description(map[string]string{ownership.ServiceKey: "default/" + svc.Name,
				ownership.ServiceUIDKey: string(svc.UID), ownership.ModeKey: ownership.ModeNodeIP}),
		}
	}
	v4, v6, dual := v1.IPv4Protocol, v1.IPv6Protocol, []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol}
	tests := []struct {
		name          string
		svc           *v1.Service
		defaults      []string // the cloud config's nodeip-source-ranges
		wantRules     func(svc *v1.Service) []firewall.Rule
		wantPublished []string
	}{
		{
			name:     "an IPv4 Service has one rule, from anywhere in IPv4 by default, to the nodes' IPv4 addresses",
			svc:      newService("v4", fixture.Families(v4)),
			defaults: []string{"0.0.0.0/0"},
			wantRules: func(svc *v1.Service) []firewall.Rule {
				return []firewall.Rule{rule(svc, testFirewallName(string(svc.UID)), []string{"0.0.0.0/0"}, []string{"10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"})}
			},
			wantPublished: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"},
		},
		{
			name:     "an IPv6 Service has one rule, named -nip6, from anywhere in IPv6 by default, to the nodes' IPv6 addresses",
			svc:      newService("v6", fixture.Families(v6)),
			defaults: []string{"0.0.0.0/0"},
			wantRules: func(svc *v1.Service) []firewall.Rule {
				return []firewall.Rule{rule(svc, testFirewallNameIPv6(string(svc.UID)), []string{"::/0"}, []string{"fd00::1/128", "fd00::2/128"})}
			},
			wantPublished: []string{"fd00::1", "fd00::2"},
		},
		{
			name:     "a dual-stack Service has a rule per family, neither mixing the families",
			svc:      newService("dual", fixture.Families(dual...)),
			defaults: []string{"0.0.0.0/0"},
			wantRules: func(svc *v1.Service) []firewall.Rule {
				return []firewall.Rule{
					rule(svc, testFirewallName(string(svc.UID)), []string{"0.0.0.0/0"}, []string{"10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"}),
					rule(svc, testFirewallNameIPv6(string(svc.UID)), []string{"::/0"}, []string{"fd00::1/128", "fd00::2/128"}),
				}
			},
			wantPublished: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::1", "fd00::2"},
		},
		{
			name:     "a dual-stack Service's source ranges go to the rule of their family",
			svc:      newService("dual", fixture.Families(dual...), fixture.SourceRanges("2001:db8::/32", "203.0.113.0/24")),
			defaults: []string{"0.0.0.0/0"},
			wantRules: func(svc *v1.Service) []firewall.Rule {
				return []firewall.Rule{
					rule(svc, testFirewallName(string(svc.UID)), []string{"203.0.113.0/24"}, []string{"10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"}),
					rule(svc, testFirewallNameIPv6(string(svc.UID)), []string{"2001:db8::/32"}, []string{"fd00::1/128", "fd00::2/128"}),
				}
			},
			wantPublished: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::1", "fd00::2"},
		},
		{
			name:     "a dual-stack Service with IPv4 source ranges only has no IPv6 rule and publishes no IPv6 address",
			svc:      newService("dual", fixture.Families(dual...), fixture.SourceRanges("203.0.113.0/24")),
			defaults: []string{"0.0.0.0/0"},
			wantRules: func(svc *v1.Service) []firewall.Rule {
				return []firewall.Rule{rule(svc, testFirewallName(string(svc.UID)), []string{"203.0.113.0/24"}, []string{"10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"})}
			},
			wantPublished: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"},
		},
		{
			name:     "a dual-stack Service with a default narrowed to IPv4 ranges has no IPv6 rule",
			svc:      newService("dual", fixture.Families(dual...)),
			defaults: []string{"10.0.0.0/8"},
			wantRules: func(svc *v1.Service) []firewall.Rule {
				return []firewall.Rule{rule(svc, testFirewallName(string(svc.UID)), []string{"10.0.0.0/8"}, []string{"10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"})}
			},
			wantPublished: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDefaults()
			d.SourceRanges = nil
			for _, r := range tt.defaults {
				d.SourceRanges = append(d.SourceRanges, netip.MustParsePrefix(r))
			}
			a := decideFor(tt.svc, nodes, d)
			if a.Problem != nil {
				t.Fatalf("problem: %+v", a.Problem)
			}
			if diff := cmp.Diff(tt.wantRules(tt.svc), a.Rules); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPublished, ips(ingressOf(a.Targets, a.Families))); diff != "" {
				t.Errorf("published (-want +got):\n%s", diff)
			}
			if plan := firewall.Diff(a.Rules, nil, testOwner, firewall.ForNodeIP(string(tt.svc.UID))); len(plan.Conflicts) > 0 {
				t.Errorf("the firewall package would not own the rules: %v", plan.Conflicts)
			}
			for _, r := range a.Rules {
				if len(r.Name) > 63 {
					t.Errorf("rule name %s is longer than 63 characters", r.Name)
				}
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

// mustSources are the Service's ranges by family, with no ceiling.
func mustSources(ranges []netip.Prefix) firewall.Sources {
	s, _ := firewall.ClientSources(ranges, nil)
	return s
}
