package trace

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"
)

const testNetwork = "https://www.googleapis.com/compute/v1/projects/fake-project/global/networks/default"

type fwOpt func(*compute.Firewall)

// newFirewall is an enabled ingress rule on the test network, allowing
// tcp:80 from anywhere at priority 1000, changed by opts.
func newFirewall(name string, opts ...fwOpt) *compute.Firewall {
	fw := &compute.Firewall{Name: name, Network: testNetwork, Direction: "INGRESS", Priority: 1000,
		SourceRanges: []string{"0.0.0.0/0"}, Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80"}}}}
	for _, o := range opts {
		o(fw)
	}
	return fw
}

func priority(p int64) fwOpt         { return func(fw *compute.Firewall) { fw.Priority = p } }
func sources(r ...string) fwOpt      { return func(fw *compute.Firewall) { fw.SourceRanges = r } }
func sourceTags(t ...string) fwOpt   { return func(fw *compute.Firewall) { fw.SourceTags = t } }
func destinations(r ...string) fwOpt { return func(fw *compute.Firewall) { fw.DestinationRanges = r } }
func targetTags(t ...string) fwOpt   { return func(fw *compute.Firewall) { fw.TargetTags = t } }
func direction(d string) fwOpt       { return func(fw *compute.Firewall) { fw.Direction = d } }
func network(n string) fwOpt         { return func(fw *compute.Firewall) { fw.Network = n } }
func disabled() fwOpt                { return func(fw *compute.Firewall) { fw.Disabled = true } }
func targetAccounts(a ...string) fwOpt {
	return func(fw *compute.Firewall) { fw.TargetServiceAccounts = a }
}
func allow(proto string, ports ...string) fwOpt {
	return func(fw *compute.Firewall) {
		fw.Allowed = []*compute.FirewallAllowed{{IPProtocol: proto, Ports: ports}}
	}
}
func deny(proto string, ports ...string) fwOpt {
	return func(fw *compute.Firewall) {
		fw.Allowed = nil
		fw.Denied = []*compute.FirewallDenied{{IPProtocol: proto, Ports: ports}}
	}
}

// vm is an instance on the test network with a primary address and tags.
func vm(name, ip string, tags ...string) *compute.Instance {
	return &compute.Instance{Name: name, Zone: "https://www.googleapis.com/compute/v1/projects/fake-project/zones/us-central1-a",
		SelfLink:          "https://www.googleapis.com/compute/v1/projects/fake-project/zones/us-central1-a/instances/" + name,
		Status:            "RUNNING",
		NetworkInterfaces: []*compute.NetworkInterface{{Network: testNetwork, NetworkIP: ip}},
		Tags:              &compute.Tags{Items: tags}}
}

func tcp(src, dst string) Packet {
	return Packet{Protocol: "tcp", Src: netip.MustParseAddr(src), Dst: netip.MustParseAddrPort(dst)}
}

func TestEvaluateIngress(t *testing.T) {
	node := vm("node-1", "10.128.0.2", "k8s-node")
	other := vm("node-2", "10.128.0.3", "k8s-node")
	client := tcp("198.51.100.10", "10.128.0.2:80")
	tests := []struct {
		name   string
		rules  []*compute.Firewall
		pkt    Packet
		source *compute.Instance
		want   string // the verdict's String
	}{
		{
			name: "without rules the implied rule denies",
			pkt:  client,
			want: "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "a rule that matches every criterion allows",
			rules: []*compute.Firewall{newFirewall("web")},
			pkt:   client,
			want:  "allowed by web (priority 1000)",
		},
		{
			name:  "a rule of another network does not apply",
			rules: []*compute.Firewall{newFirewall("web", network("https://www.googleapis.com/compute/v1/projects/fake-project/global/networks/other"))},
			pkt:   client,
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "a partial network link names the same network",
			rules: []*compute.Firewall{newFirewall("web", network("global/networks/default"))},
			pkt:   client,
			want:  "allowed by web (priority 1000)",
		},
		{
			name:  "a disabled rule does not apply",
			rules: []*compute.Firewall{newFirewall("web", disabled())},
			pkt:   client,
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "an egress rule does not apply to ingress",
			rules: []*compute.Firewall{newFirewall("web", direction("EGRESS"))},
			pkt:   client,
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "an empty direction is ingress",
			rules: []*compute.Firewall{newFirewall("web", direction(""))},
			pkt:   client,
			want:  "allowed by web (priority 1000)",
		},
		{
			name:  "a rule whose target tags the instance lacks does not apply",
			rules: []*compute.Firewall{newFirewall("web", targetTags("edge"))},
			pkt:   client,
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "a rule applies to an instance with one of its target tags",
			rules: []*compute.Firewall{newFirewall("web", targetTags("edge", "k8s-node"))},
			pkt:   client,
			want:  "allowed by web (priority 1000)",
		},
		{
			name:  "a rule with target service accounts applies only to instances running as one of them",
			rules: []*compute.Firewall{newFirewall("web", targetAccounts("lb@fake-project.iam.gserviceaccount.com"))},
			pkt:   client,
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "a source outside the source ranges does not match",
			rules: []*compute.Firewall{newFirewall("web", sources("10.0.0.0/8", "192.0.2.0/24"))},
			pkt:   client,
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "a source inside one of the source ranges matches",
			rules: []*compute.Firewall{newFirewall("web", sources("10.0.0.0/8", "198.51.100.0/24"))},
			pkt:   client,
			want:  "allowed by web (priority 1000)",
		},
		{
			name:  "a bare address in the source ranges is a host range",
			rules: []*compute.Firewall{newFirewall("web", sources("198.51.100.10"))},
			pkt:   client,
			want:  "allowed by web (priority 1000)",
		},
		{
			name:  "a rule without any source has the API's default source 0.0.0.0/0",
			rules: []*compute.Firewall{newFirewall("web", sources())},
			pkt:   client,
			want:  "allowed by web (priority 1000)",
		},
		{
			name:  "the default source 0.0.0.0/0 does not cover IPv6 clients",
			rules: []*compute.Firewall{newFirewall("web", sources())},
			pkt:   tcp("2001:db8::10", "[2600:1900::1]:80"),
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "::/0 covers IPv6 clients",
			rules: []*compute.Firewall{newFirewall("web", sources("::/0"))},
			pkt:   tcp("2001:db8::10", "[2600:1900::1]:80"),
			want:  "allowed by web (priority 1000)",
		},
		{
			name:   "source tags match a packet from the primary address of a tagged instance",
			rules:  []*compute.Firewall{newFirewall("nodes", sources(), sourceTags("k8s-node"))},
			pkt:    tcp("10.128.0.3", "10.128.0.2:80"),
			source: other,
			want:   "allowed by nodes (priority 1000)",
		},
		{
			name:   "source tags do not match a tagged instance's packet from another address",
			rules:  []*compute.Firewall{newFirewall("nodes", sources(), sourceTags("k8s-node"))},
			pkt:    tcp("10.64.2.5", "10.128.0.2:80"),
			source: other,
			want:   "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "source tags alone do not match a client that is no instance",
			rules: []*compute.Firewall{newFirewall("nodes", sources(), sourceTags("k8s-node"))},
			pkt:   client,
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:   "source ranges and source tags together match either",
			rules:  []*compute.Firewall{newFirewall("nodes", sources("192.0.2.0/24"), sourceTags("k8s-node"))},
			pkt:    tcp("10.128.0.3", "10.128.0.2:80"),
			source: other,
			want:   "allowed by nodes (priority 1000)",
		},
		{
			name:  "a destination outside the destination ranges does not match",
			rules: []*compute.Firewall{newFirewall("nip", destinations("10.128.0.3/32"))},
			pkt:   client,
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "a destination inside the destination ranges matches",
			rules: []*compute.Firewall{newFirewall("nip", destinations("10.128.0.3/32", "10.128.0.2/32"))},
			pkt:   client,
			want:  "allowed by nip (priority 1000)",
		},
		{
			name:  "a rule for another protocol does not match",
			rules: []*compute.Firewall{newFirewall("dns", allow("udp", "80"))},
			pkt:   client,
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "a rule for other ports does not match",
			rules: []*compute.Firewall{newFirewall("web", allow("tcp", "443", "8000-8080"))},
			pkt:   client,
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "a port range covers its ends",
			rules: []*compute.Firewall{newFirewall("web", allow("tcp", "443", "8000-8080"))},
			pkt:   tcp("198.51.100.10", "10.128.0.2:8080"),
			want:  "allowed by web (priority 1000)",
		},
		{
			name:  "an entry with a port the API would refuse covers nothing, not even its good ports",
			rules: []*compute.Firewall{newFirewall("web", allow("tcp", "80", "65536"))},
			pkt:   client,
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "ports from 0 to 65535, as in the default network's internal rule, cover every port",
			rules: []*compute.Firewall{newFirewall("default-allow-internal", allow("tcp", "0-65535"))},
			pkt:   tcp("198.51.100.10", "10.128.0.2:31999"),
			want:  "allowed by default-allow-internal (priority 1000)",
		},
		{
			name:  "an entry with a reversed port range covers nothing",
			rules: []*compute.Firewall{newFirewall("web", allow("tcp", "80", "90-85"))},
			pkt:   client,
			want:  "denied by the implied deny-ingress rule (priority 65535)",
		},
		{
			name:  "ports of a protocol without ports are ignored",
			rules: []*compute.Firewall{newFirewall("ping", allow("icmp", "80"))},
			pkt:   Packet{Protocol: "icmp", Src: netip.MustParseAddr("198.51.100.10"), Dst: netip.AddrPortFrom(netip.MustParseAddr("10.128.0.2"), 0)},
			want:  "allowed by ping (priority 1000)",
		},
		{
			name:  "an entry without ports covers every port",
			rules: []*compute.Firewall{newFirewall("web", allow("tcp"))},
			pkt:   tcp("198.51.100.10", "10.128.0.2:31999"),
			want:  "allowed by web (priority 1000)",
		},
		{
			name:  "the protocol all covers every protocol and port",
			rules: []*compute.Firewall{newFirewall("any", allow("all"))},
			pkt:   Packet{Protocol: "udp", Src: netip.MustParseAddr("198.51.100.10"), Dst: netip.MustParseAddrPort("10.128.0.2:53")},
			want:  "allowed by any (priority 1000)",
		},
		{
			name:  "a protocol number names the protocol",
			rules: []*compute.Firewall{newFirewall("web", allow("6", "80"))},
			pkt:   client,
			want:  "allowed by web (priority 1000)",
		},
		{
			name:  "protocol names are compared without regard to case",
			rules: []*compute.Firewall{newFirewall("web", allow("TCP", "80"))},
			pkt:   Packet{Protocol: "TCP", Src: netip.MustParseAddr("198.51.100.10"), Dst: netip.MustParseAddrPort("10.128.0.2:80")},
			want:  "allowed by web (priority 1000)",
		},
		{
			name:  "at equal priority a deny rule wins over an allow rule",
			rules: []*compute.Firewall{newFirewall("a-allow"), newFirewall("z-deny", deny("tcp", "80"))},
			pkt:   client,
			want:  "denied by z-deny (priority 1000)",
		},
		{
			name:  "an allow rule of a lower priority number wins over a deny rule",
			rules: []*compute.Firewall{newFirewall("deny", deny("all"), priority(2000)), newFirewall("allow", priority(1000))},
			pkt:   client,
			want:  "allowed by allow (priority 1000)",
		},
		{
			name:  "a deny rule of a lower priority number wins over an allow rule",
			rules: []*compute.Firewall{newFirewall("allow", priority(1000)), newFirewall("deny", deny("tcp"), priority(900))},
			pkt:   client,
			want:  "denied by deny (priority 900)",
		},
		{
			name:  "a deny rule for another port does not decide",
			rules: []*compute.Firewall{newFirewall("no-ssh", deny("tcp", "22"), priority(10)), newFirewall("web")},
			pkt:   client,
			want:  "allowed by web (priority 1000)",
		},
		{
			name:  "priority 0 is the highest precedence",
			rules: []*compute.Firewall{newFirewall("deny", deny("all"), priority(1)), newFirewall("first", priority(0))},
			pkt:   client,
			want:  "allowed by first (priority 0)",
		},
		{
			name:  "of two allow rules at equal priority the verdict names the first by name",
			rules: []*compute.Firewall{newFirewall("web-b"), newFirewall("web-a")},
			pkt:   client,
			want:  "allowed by web-a (priority 1000)",
		},
		{
			name:  "a rule of higher precedence that does not match leaves the decision to the next",
			rules: []*compute.Firewall{newFirewall("office", sources("192.0.2.0/24"), priority(100)), newFirewall("lb", deny("tcp", "80"), priority(500)), newFirewall("web")},
			pkt:   client,
			want:  "denied by lb (priority 500)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := EvaluateIngress(tc.rules, tc.pkt, node, tc.source).String()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("EvaluateIngress (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFirewallMisses(t *testing.T) {
	node := vm("node-2", "10.128.0.3", "k8s-node")
	pkt := tcp("198.51.100.10", "10.128.0.3:8080")
	tests := []struct {
		name string
		rule *compute.Firewall
		want []string
	}{
		{
			name: "a rule that applies misses nothing",
			rule: newFirewall("web", allow("tcp", "8080")),
		},
		{
			name: "a nodeip rule that lists another node's address says so",
			rule: newFirewall("nip", allow("tcp", "8080"), destinations("10.128.0.2/32")),
			want: []string{"lists destination 10.128.0.2 only"},
		},
		{
			name: "every failed criterion is listed, in the order the firewall checks them",
			rule: newFirewall("fw", disabled(), targetTags("edge"), sources("10.0.0.0/8"), destinations("203.0.113.5/32", "203.0.113.6/32"), allow("tcp", "80", "443")),
			want: []string{
				"is disabled",
				"targets tags edge (the instance has k8s-node)",
				"allows sources 10.0.0.0/8 only",
				"lists destinations 203.0.113.5, 203.0.113.6 only",
				"allows tcp:80,443 only",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, m := range firewallMisses(tc.rule, pkt, node, nil) {
				got = append(got, m.text)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("firewallMisses (-want +got):\n%s", diff)
			}
		})
	}
}
