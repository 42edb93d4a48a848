package firewall_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/compute/v1"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		in   firewall.Rule
		want firewall.Rule
	}{
		{
			name: "an empty direction means INGRESS and a zero priority means 1000, as the API defaults them",
			in:   firewall.Rule{SourceRanges: []string{"10.0.0.0/8"}},
			want: firewall.Rule{Direction: "INGRESS", Priority: 1000, SourceRanges: []string{"10.0.0.0/8"}},
		},
		{
			name: "a lower-case direction is upper-cased",
			in:   firewall.Rule{Direction: "egress", Priority: 900, DestinationRanges: []string{"10.0.0.0/8"}},
			want: firewall.Rule{Direction: "EGRESS", Priority: 900, DestinationRanges: []string{"10.0.0.0/8"}},
		},
		{
			name: "an ingress rule without source ranges is open to 0.0.0.0/0, as the API fills it in",
			in:   firewall.Rule{Direction: "INGRESS"},
			want: firewall.Rule{Direction: "INGRESS", Priority: 1000, SourceRanges: []string{"0.0.0.0/0"}},
		},
		{
			name: "an egress rule without destination ranges goes to 0.0.0.0/0, as the API fills it in",
			in:   firewall.Rule{Direction: "EGRESS"},
			want: firewall.Rule{Direction: "EGRESS", Priority: 1000, DestinationRanges: []string{"0.0.0.0/0"}},
		},
		{
			name: "ranges lose their host bits, are sorted by address and de-duplicated",
			in:   firewall.Rule{SourceRanges: []string{"192.168.1.0/24", "10.1.2.3/8", "9.9.9.9/32", "10.0.0.0/8"}},
			want: firewall.Rule{Direction: "INGRESS", Priority: 1000, SourceRanges: []string{"9.9.9.9/32", "10.0.0.0/8", "192.168.1.0/24"}},
		},
		{
			name: "a bare address is a host range and IPv6 ranges are canonical",
			in:   firewall.Rule{SourceRanges: []string{"2001:DB8::1/32", "203.0.113.7", "2001:db8::/32"}},
			want: firewall.Rule{Direction: "INGRESS", Priority: 1000, SourceRanges: []string{"203.0.113.7/32", "2001:db8::/32"}},
		},
		{
			name: "a string that is no range is kept for the API to refuse",
			in:   firewall.Rule{SourceRanges: []string{"not-a-range", "10.0.0.0/8"}},
			want: firewall.Rule{Direction: "INGRESS", Priority: 1000, SourceRanges: []string{"10.0.0.0/8", "not-a-range"}},
		},
		{
			name: "target tags are sorted and de-duplicated",
			in:   firewall.Rule{SourceRanges: []string{"0.0.0.0/0"}, TargetTags: []string{"web", "node", "web"}},
			want: firewall.Rule{Direction: "INGRESS", Priority: 1000, SourceRanges: []string{"0.0.0.0/0"}, TargetTags: []string{"node", "web"}},
		},
		{
			name: "consecutive ports merge into a range",
			in:   allowing(firewall.Allow{Protocol: "tcp", Ports: []string{"82", "80", "81"}}),
			want: normalAllowing(firewall.Allow{Protocol: "tcp", Ports: []string{"80-82"}}),
		},
		{
			name: "a port inside a range is absorbed by it",
			in:   allowing(firewall.Allow{Protocol: "tcp", Ports: []string{"80", "80-90"}}),
			want: normalAllowing(firewall.Allow{Protocol: "tcp", Ports: []string{"80-90"}}),
		},
		{
			name: "ports sort as numbers, not as strings",
			in:   allowing(firewall.Allow{Protocol: "tcp", Ports: []string{"8080", "443", "80"}}),
			want: normalAllowing(firewall.Allow{Protocol: "tcp", Ports: []string{"80", "443", "8080"}}),
		},
		{
			name: "adjacent and overlapping ranges merge",
			in:   allowing(firewall.Allow{Protocol: "udp", Ports: []string{"86-90", "80-85", "88-100", "200"}}),
			want: normalAllowing(firewall.Allow{Protocol: "udp", Ports: []string{"80-100", "200"}}),
		},
		{
			name: "protocols are lower-cased and the entries of one protocol merge",
			in: allowing(
				firewall.Allow{Protocol: "UDP", Ports: []string{"53"}},
				firewall.Allow{Protocol: "TCP", Ports: []string{"443"}},
				firewall.Allow{Protocol: "tcp", Ports: []string{"80"}}),
			want: normalAllowing(
				firewall.Allow{Protocol: "tcp", Ports: []string{"80", "443"}},
				firewall.Allow{Protocol: "udp", Ports: []string{"53"}}),
		},
		{
			name: "an entry without ports opens every port and absorbs the other entries of its protocol",
			in: allowing(
				firewall.Allow{Protocol: "tcp", Ports: []string{"80"}},
				firewall.Allow{Protocol: "tcp"}),
			want: normalAllowing(firewall.Allow{Protocol: "tcp"}),
		},
		{
			name: "a port that does not parse is kept, after the good ones",
			in:   allowing(firewall.Allow{Protocol: "tcp", Ports: []string{"http", "90-80", "80"}}),
			want: normalAllowing(firewall.Allow{Protocol: "tcp", Ports: []string{"80", "90-80", "http"}}),
		},
		{
			name: "every port from 0 absorbs the others, and a range ending at 65535 merges without wrapping",
			in:   allowing(firewall.Allow{Protocol: "tcp", Ports: []string{"65535", "80", "0-65535", "65000-65535"}}),
			want: normalAllowing(firewall.Allow{Protocol: "tcp", Ports: []string{"0-65535"}}),
		},
		{
			name: "a port above 65535 does not parse and is kept for the API to refuse",
			in:   allowing(firewall.Allow{Protocol: "tcp", Ports: []string{"65536", "65535"}}),
			want: normalAllowing(firewall.Allow{Protocol: "tcp", Ports: []string{"65535", "65536"}}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := firewall.Normalize(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Normalize (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(got, firewall.Normalize(got)); diff != "" {
				t.Errorf("Normalize is not idempotent (-once +twice):\n%s", diff)
			}
		})
	}
}

func allowing(allowed ...firewall.Allow) firewall.Rule {
	return firewall.Rule{SourceRanges: []string{"0.0.0.0/0"}, Allowed: allowed}
}

func normalAllowing(allowed ...firewall.Allow) firewall.Rule {
	return firewall.Rule{Direction: "INGRESS", Priority: 1000, SourceRanges: []string{"0.0.0.0/0"}, Allowed: allowed}
}

func TestFirewallConversionRoundTrips(t *testing.T) {
	r := newRule("web", webUID, withDirection(firewall.Egress), withPriority(900),
		withAllowed(firewall.Allow{Protocol: "tcp", Ports: []string{"80", "443"}}, firewall.Allow{Protocol: "icmp"}))
	fw := r.Firewall()
	want := &compute.Firewall{
		Name: r.Name, Network: defaultNetwork, Direction: "EGRESS", Priority: 900,
		DestinationRanges: []string{"0.0.0.0/0"}, TargetTags: []string{"node"}, Description: r.Description,
		Allowed: []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: []string{"80", "443"}}, {IPProtocol: "icmp"}},
	}
	if diff := cmp.Diff(want, fw); diff != "" {
		t.Errorf("Firewall (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(r, firewall.FromFirewall(fw)); diff != "" {
		t.Errorf("FromFirewall(r.Firewall()) (-r +got):\n%s", diff)
	}
}
