package firewall_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/firewall"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestClientSources(t *testing.T) {
	type narrowing struct {
		Requested string
		Kept      []string
	}
	tests := []struct {
		name      string
		requested []string
		allowed   []string // nil: no ceiling
		wantIPv4  []string
		wantIPv6  []string
		narrowed  []narrowing
	}{
		{name: "a Service that names no range, with no ceiling, is open to everyone in both families",
			wantIPv4: []string{"0.0.0.0/0"}, wantIPv6: []string{"::/0"}},
		{name: "a Service's ranges are split by family, in their order",
			requested: []string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.0/24"},
			wantIPv4:  []string{"203.0.113.0/24", "198.51.100.0/24"}, wantIPv6: []string{"2001:db8::/32"}},
		{name: "a Service that names IPv4 ranges only leaves IPv6 without a source, even when it names anywhere",
			requested: []string{"0.0.0.0/0"}, wantIPv4: []string{"0.0.0.0/0"}},
		{name: "a Service that names IPv6 ranges only leaves IPv4 without a source",
			requested: []string{"2001:db8::/32"}, wantIPv6: []string{"2001:db8::/32"}},
		{name: "a ceiling of anywhere in IPv4 is anywhere in IPv6 too, for a Service that names none",
			allowed: []string{"0.0.0.0/0"}, wantIPv4: []string{"0.0.0.0/0"}, wantIPv6: []string{"::/0"}},
		{name: "a ceiling of anywhere in IPv6 is anywhere in IPv4 too",
			allowed: []string{"::/0"}, wantIPv4: []string{"0.0.0.0/0"}, wantIPv6: []string{"::/0"}},
		{name: "a ceiling of IPv4 ranges leaves IPv6 without a source",
			allowed: []string{"10.0.0.0/8"}, wantIPv4: []string{"10.0.0.0/8"}},
		{name: "a ceiling of both families is split",
			allowed: []string{"10.0.0.0/8", "fd00::/8"}, wantIPv4: []string{"10.0.0.0/8"}, wantIPv6: []string{"fd00::/8"}},
		{name: "a Service that widens to anywhere is cut to the ceiling, and says so",
			requested: []string{"0.0.0.0/0"}, allowed: []string{"10.0.0.0/8", "192.168.0.0/16"},
			wantIPv4: []string{"10.0.0.0/8", "192.168.0.0/16"},
			narrowed: []narrowing{{"0.0.0.0/0", []string{"10.0.0.0/8", "192.168.0.0/16"}}}},
		{name: "a Service's range inside the ceiling is kept as it is",
			requested: []string{"10.1.0.0/16"}, allowed: []string{"10.0.0.0/8"}, wantIPv4: []string{"10.1.0.0/16"}},
		{name: "a Service's range that overlaps part of the ceiling keeps that part",
			requested: []string{"10.0.0.0/7"}, allowed: []string{"10.0.0.0/8", "172.16.0.0/12"},
			wantIPv4: []string{"10.0.0.0/8"}, narrowed: []narrowing{{"10.0.0.0/7", []string{"10.0.0.0/8"}}}},
		{name: "a Service's range outside the ceiling is dropped",
			requested: []string{"203.0.113.0/24", "10.1.0.0/16"}, allowed: []string{"10.0.0.0/8"},
			wantIPv4: []string{"10.1.0.0/16"}, narrowed: []narrowing{{Requested: "203.0.113.0/24"}}},
		{name: "a Service's range the ceiling covers in two halves is not narrowed",
			requested: []string{"10.0.0.0/8"}, allowed: []string{"10.0.0.0/9", "10.128.0.0/9"},
			wantIPv4: []string{"10.0.0.0/9", "10.128.0.0/9"}},
		{name: "a Service's IPv6 ranges are dropped by a ceiling of IPv4 ranges only",
			requested: []string{"10.1.0.0/16", "2001:db8::/32"}, allowed: []string{"10.0.0.0/8"},
			wantIPv4: []string{"10.1.0.0/16"}, narrowed: []narrowing{{Requested: "2001:db8::/32"}}},
		{name: "ranges kept twice are listed once",
			requested: []string{"0.0.0.0/0", "10.0.0.0/8"}, allowed: []string{"10.0.0.0/8"},
			wantIPv4: []string{"10.0.0.0/8"}, narrowed: []narrowing{{"0.0.0.0/0", []string{"10.0.0.0/8"}}}},
		{name: "a Service's IPv6 range is cut by the ceiling's IPv6 ranges",
			requested: []string{"::/0"}, allowed: []string{"0.0.0.0/0", "2001:db8:1::/48"},
			wantIPv6: []string{"2001:db8:1::/48"}, narrowed: []narrowing{{"::/0", []string{"2001:db8:1::/48"}}}},
	}
	str := func(ps []netip.Prefix) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.String())
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var allowed []netip.Prefix
			if tt.allowed != nil {
				allowed = prefixes(tt.allowed...)
			}
			got, narrowed := firewall.ClientSources(prefixes(tt.requested...), allowed)
			if diff := cmp.Diff(tt.wantIPv4, str(got[firewall.IPv4])); diff != "" {
				t.Errorf("IPv4 sources (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantIPv6, str(got[firewall.IPv6])); diff != "" {
				t.Errorf("IPv6 sources (-want +got):\n%s", diff)
			}
			var gotNarrowed []narrowing
			for _, n := range narrowed {
				gotNarrowed = append(gotNarrowed, narrowing{n.Requested.String(), str(n.Kept)})
			}
			if diff := cmp.Diff(tt.narrowed, gotNarrowed); diff != "" {
				t.Errorf("narrowed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClosedFamilies(t *testing.T) {
	s, _ := firewall.ClientSources(prefixes("10.0.0.0/8"), nil)
	if diff := cmp.Diff([]firewall.Family{firewall.IPv6}, s.Closed([]firewall.Family{firewall.IPv4, firewall.IPv6})); diff != "" {
		t.Errorf("closed families of a dual-stack Service with IPv4 ranges only (-want +got):\n%s", diff)
	}
	if got := s.Closed([]firewall.Family{firewall.IPv4}); len(got) != 0 {
		t.Errorf("closed families of an IPv4 Service with IPv4 ranges = %v, want none", got)
	}
}
