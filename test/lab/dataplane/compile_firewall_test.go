package dataplane

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
)

func TestCompileFirewall(t *testing.T) {
	vm1 := newInstance("vm1", "10.128.0.2", withTags("web"), withServiceAccount("web@p.iam"))
	vm2 := newInstance("vm2", "10.128.0.3", withTags("db"))
	vm3 := newInstance("vm3", "10.128.0.4", withTags("web", "db"))
	everyone := prefixes("0.0.0.0/0")
	tcp80 := []ProtocolPorts{{Protocol: 6, Ports: []PortRange{{80, 80}}}}
	all := addrs("10.128.0.2", "10.128.0.3", "10.128.0.4")
	tests := []struct {
		name      string
		firewalls []*compute.Firewall
		instances []*compute.Instance
		want      []FirewallRule
	}{{
		name:      "rules are evaluated by ascending priority, whatever order the API lists them in",
		firewalls: []*compute.Firewall{newFirewall("late", priority(2000)), newFirewall("first", priority(10)), newFirewall("middle")},
		want: []FirewallRule{
			{Name: "first", Priority: 10, Action: Allow, Sources: everyone, Targets: all, Match: tcp80},
			{Name: "middle", Priority: 1000, Action: Allow, Sources: everyone, Targets: all, Match: tcp80},
			{Name: "late", Priority: 2000, Action: Allow, Sources: everyone, Targets: all, Match: tcp80},
		},
	}, {
		name:      "at equal priority a deny comes before an allow, even one named earlier",
		firewalls: []*compute.Firewall{newFirewall("a-allow"), newFirewall("z-deny", deny("tcp", "80"))},
		want: []FirewallRule{
			{Name: "z-deny", Priority: 1000, Action: Deny, Sources: everyone, Targets: all, Match: tcp80},
			{Name: "a-allow", Priority: 1000, Action: Allow, Sources: everyone, Targets: all, Match: tcp80},
		},
	}, {
		name:      "a lower priority allow still comes before a deny",
		firewalls: []*compute.Firewall{newFirewall("deny", deny("all")), newFirewall("allow", priority(999))},
		want: []FirewallRule{
			{Name: "allow", Priority: 999, Action: Allow, Sources: everyone, Targets: all, Match: tcp80},
			{Name: "deny", Priority: 1000, Action: Deny, Sources: everyone, Targets: all, Match: []ProtocolPorts{{}}},
		},
	}, {
		name:      "target tags select the instances that have any of them",
		firewalls: []*compute.Firewall{newFirewall("web", targetTags("web"))},
		want:      []FirewallRule{{Name: "web", Priority: 1000, Action: Allow, Sources: everyone, Targets: addrs("10.128.0.2", "10.128.0.4"), Match: tcp80}},
	}, {
		name:      "target service accounts select the instances that run as them",
		firewalls: []*compute.Firewall{newFirewall("sa", targetServiceAccounts("web@p.iam"))},
		want:      []FirewallRule{{Name: "sa", Priority: 1000, Action: Allow, Sources: everyone, Targets: addrs("10.128.0.2"), Match: tcp80}},
	}, {
		name:      "a rule whose target tags no instance has is left out",
		firewalls: []*compute.Firewall{newFirewall("nobody", targetTags("cache"))},
	}, {
		name:      "source tags add the tagged instances' internal addresses to the source ranges",
		firewalls: []*compute.Firewall{newFirewall("from-db", sourceRanges("192.0.2.0/24"), sourceTags("db"), targetTags("web"))},
		want: []FirewallRule{{Name: "from-db", Priority: 1000, Action: Allow,
			Sources: prefixes("10.128.0.3/32", "10.128.0.4/32", "192.0.2.0/24"), Targets: addrs("10.128.0.2", "10.128.0.4"), Match: tcp80}},
	}, {
		name:      "source tags alone match only the tagged instances",
		firewalls: []*compute.Firewall{newFirewall("from-web", sourceRanges(), sourceTags("web"))},
		want:      []FirewallRule{{Name: "from-web", Priority: 1000, Action: Allow, Sources: prefixes("10.128.0.2/32", "10.128.0.4/32"), Targets: all, Match: tcp80}},
	}, {
		name:      "source tags that no instance has, and no ranges, match nothing, so the rule is left out",
		firewalls: []*compute.Firewall{newFirewall("from-cache", sourceRanges(), sourceTags("cache"))},
	}, {
		name:      "a rule without any source matches every source, as the API fills in 0.0.0.0/0",
		firewalls: []*compute.Firewall{newFirewall("open", sourceRanges())},
		want:      []FirewallRule{{Name: "open", Priority: 1000, Action: Allow, Sources: everyone, Targets: all, Match: tcp80}},
	}, {
		name:      "source ranges are masked and IPv6 ones are dropped",
		firewalls: []*compute.Firewall{newFirewall("mixed", sourceRanges("198.51.100.7/24", "2001:db8::/32", "203.0.113.9"))},
		want:      []FirewallRule{{Name: "mixed", Priority: 1000, Action: Allow, Sources: prefixes("198.51.100.0/24", "203.0.113.9/32"), Targets: all, Match: tcp80}},
	}, {
		name:      "destination ranges narrow the rule to those destinations",
		firewalls: []*compute.Firewall{newFirewall("to-lb", destinationRanges("203.0.113.10/32", "2001:db8::1/128"))},
		want: []FirewallRule{{Name: "to-lb", Priority: 1000, Action: Allow, Sources: everyone,
			Destinations: prefixes("203.0.113.10/32"), Targets: all, Match: tcp80}},
	}, {
		name:      "a rule with IPv6 destination ranges only never matches IPv4 and is left out",
		firewalls: []*compute.Firewall{newFirewall("v6", destinationRanges("2001:db8::/32"))},
	}, {
		name:      "a protocol without ports matches every port",
		firewalls: []*compute.Firewall{newFirewall("tcp", allow("tcp"))},
		want:      []FirewallRule{{Name: "tcp", Priority: 1000, Action: Allow, Sources: everyone, Targets: all, Match: []ProtocolPorts{{Protocol: 6}}}},
	}, {
		name:      "ports and port ranges are sorted ranges, one entry per allowed item",
		firewalls: []*compute.Firewall{newFirewall("ports", allow("tcp", "8080", "30000-32767", "443"), alsoAllow("udp", "53"), alsoAllow("icmp"))},
		want: []FirewallRule{{Name: "ports", Priority: 1000, Action: Allow, Sources: everyone, Targets: all, Match: []ProtocolPorts{
			{Protocol: 6, Ports: []PortRange{{443, 443}, {8080, 8080}, {30000, 32767}}},
			{Protocol: 17, Ports: []PortRange{{53, 53}}},
			{Protocol: 1},
		}}},
	}, {
		name:      "ports from 0 to 65535, as in the default network's internal rule, are one range of every port",
		firewalls: []*compute.Firewall{newFirewall("internal", allow("tcp", "0-65535"), alsoAllow("udp", "0-65535"), alsoAllow("icmp"))},
		want: []FirewallRule{{Name: "internal", Priority: 1000, Action: Allow, Sources: everyone, Targets: all, Match: []ProtocolPorts{
			{Protocol: 6, Ports: []PortRange{{0, 65535}}},
			{Protocol: 17, Ports: []PortRange{{0, 65535}}},
			{Protocol: 1},
		}}},
	}, {
		name:      "an entry with a port the API refuses is dropped, and a rule left with no entry is left out",
		firewalls: []*compute.Firewall{newFirewall("bad", allow("tcp", "80", "65536"))},
	}, {
		name:      "a protocol given by number is kept",
		firewalls: []*compute.Firewall{newFirewall("gre", allow("47"))},
		want:      []FirewallRule{{Name: "gre", Priority: 1000, Action: Allow, Sources: everyone, Targets: all, Match: []ProtocolPorts{{Protocol: 47}}}},
	}, {
		name:      "disabled rules are left out",
		firewalls: []*compute.Firewall{newFirewall("off", disabled)},
	}, {
		name:      "egress rules are left out: egress is allowed",
		firewalls: []*compute.Firewall{newFirewall("out", egress, deny("all"))},
	}, {
		name:      "rules of another network are left out",
		firewalls: []*compute.Firewall{newFirewall("elsewhere", onNetwork("other"))},
	}, {
		name:      "stopped instances are no targets",
		firewalls: []*compute.Firewall{newFirewall("web", targetTags("web"))},
		instances: []*compute.Instance{vm1, newInstance("vm3", "10.128.0.4", withTags("web"), stopped)},
		want:      []FirewallRule{{Name: "web", Priority: 1000, Action: Allow, Sources: everyone, Targets: addrs("10.128.0.2"), Match: tcp80}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			instances := tt.instances
			if instances == nil {
				instances = []*compute.Instance{vm3, vm1, vm2}
			}
			got := Compile(State{Network: "default", Instances: instances, Firewalls: tt.firewalls}).Firewall
			if diff := cmp.Diff(tt.want, got, planOpts); diff != "" {
				t.Errorf("firewall (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileFirewallIPv6(t *testing.T) {
	vm1 := newInstance("vm1", "10.128.0.2", withTags("node"), withIPv6("2600:1900:4000:1:0:2::"))
	vm2 := newInstance("vm2", "10.128.0.3", withTags("client"), withIPv6("2600:1900:4000:1:0:3::"))
	vm3 := newInstance("vm3", "10.128.0.4", withTags("client"))
	hc := []ProtocolPorts{{Protocol: 6, Ports: []PortRange{{10256, 10256}}}}
	tests := []struct {
		name      string
		firewalls []*compute.Firewall
		want      []FirewallRule
		wantIPv4  []string // names of the rules of Firewall
	}{{
		name: "the CCM's -hc6 rule (IPv6 checker ranges to the health-check port) is an IPv6 rule and no IPv4 one",
		firewalls: []*compute.Firewall{newFirewall("k8s-abc-hc6", sourceRanges("2600:1901:8001::/48"), targetTags("node"),
			allow("tcp", "10256"))},
		want: []FirewallRule{{Name: "k8s-abc-hc6", Priority: 1000, Action: Allow, Sources: prefixes("2600:1901:8001::/48"),
			Targets: addrs("10.128.0.2"), Match: hc}},
	}, {
		name:      "a rule without any source is an IPv4 one only, as the API fills in 0.0.0.0/0",
		firewalls: []*compute.Firewall{newFirewall("open", sourceRanges())},
		wantIPv4:  []string{"open"},
	}, {
		name:      "source tags stand for the tagged instances' IPv6 addresses, where they have one",
		firewalls: []*compute.Firewall{newFirewall("from-clients", sourceRanges(), sourceTags("client"), allow("tcp", "10256"))},
		want: []FirewallRule{{Name: "from-clients", Priority: 1000, Action: Allow, Sources: prefixes("2600:1900:4000:1:0:3::/128"),
			Targets: addrs("10.128.0.2", "10.128.0.3", "10.128.0.4"), Match: hc}},
		wantIPv4: []string{"from-clients"},
	}, {
		name: "IPv6 destination ranges narrow an IPv6 rule, and an IPv4 rule keeps its IPv4 ones",
		firewalls: []*compute.Firewall{newFirewall("to-lb", sourceRanges("0.0.0.0/0", "::/0"),
			destinationRanges("203.0.113.10/32", "2600:1900:4000:1:8000::/96"))},
		want: []FirewallRule{{Name: "to-lb", Priority: 1000, Action: Allow, Sources: prefixes("::/0"),
			Destinations: prefixes("2600:1900:4000:1:8000::/96"), Targets: addrs("10.128.0.2", "10.128.0.3", "10.128.0.4"),
			Match: []ProtocolPorts{{Protocol: 6, Ports: []PortRange{{80, 80}}}}}},
		wantIPv4: []string{"to-lb"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Compile(State{Network: "default", Instances: []*compute.Instance{vm1, vm2, vm3}, Firewalls: tt.firewalls})
			if diff := cmp.Diff(tt.want, plan.Firewall6, planOpts); diff != "" {
				t.Errorf("IPv6 firewall (-want +got):\n%s", diff)
			}
			var ipv4 []string
			for _, r := range plan.Firewall {
				ipv4 = append(ipv4, r.Name)
			}
			if diff := cmp.Diff(tt.wantIPv4, ipv4); diff != "" {
				t.Errorf("IPv4 firewall rules (-want +got):\n%s", diff)
			}
		})
	}
}
